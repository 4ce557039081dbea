package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReferenceListsEveryCommand: docs/reference.md lists every command of
// the table, each command's own flags in its section and every setting in
// the Environment table with its flag; and nothing it lists is missing
// from the binary. "Exists" is the command table and each command's flags.
func TestReferenceListsEveryCommand(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "reference.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	// Sections: "### `refundrecon NAME`" up to the next heading.
	sections := map[string]string{}
	heading := regexp.MustCompile("(?m)^### `refundrecon ([a-z][a-z -]*)`$")
	locs := heading.FindAllStringSubmatchIndex(doc, -1)
	for i, l := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := doc[l[1]:end]
		if j := strings.Index(body, "\n## "); j >= 0 {
			body = body[:j]
		}
		sections[doc[l[2]:l[3]]] = body
	}

	// The Environment table: variable → flag.
	envRows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\| `--([a-z][a-z0-9-]*)` \\|").FindAllStringSubmatch(doc, -1) {
		envRows[m[1]] = m[2]
	}
	if len(envRows) < 20 {
		t.Fatalf("only %d rows in the Environment table", len(envRows))
	}

	flagRef := regexp.MustCompile("`--([a-z][a-z0-9-]*)")
	allFlags := map[string]bool{"help": true, "version": true}
	allEnv := map[string]string{}
	for _, c := range commands() {
		if c.Hidden {
			continue
		}
		section, ok := sections[c.Name]
		if !ok {
			t.Errorf("docs/reference.md has no section ### `refundrecon %s`", c.Name)
		}
		delete(sections, c.Name)
		own := map[string]bool{}
		if h := flagsOf(c); h != nil {
			h.fs.VisitAll(func(f *flag.Flag) {
				allFlags[f.Name] = true
				if env := h.env[f.Name]; env != "" {
					allEnv[env] = f.Name
					return
				}
				own[f.Name] = true
				if ok && !strings.Contains(section, "`--"+f.Name+"`") {
					t.Errorf("docs/reference.md: %s's section does not list --%s", c.Name, f.Name)
				}
			})
		}
		for _, m := range flagRef.FindAllStringSubmatch(section, -1) {
			if !own[m[1]] {
				t.Errorf("docs/reference.md: %s's section lists --%s, which is not a flag of its own", c.Name, m[1])
			}
		}
	}
	for name := range sections {
		t.Errorf("docs/reference.md lists `refundrecon %s`, which is not a command", name)
	}
	for env, name := range allEnv {
		if got, ok := envRows[env]; !ok {
			t.Errorf("docs/reference.md's Environment table lacks %s (--%s)", env, name)
		} else if got != name {
			t.Errorf("docs/reference.md: %s is the flag --%s, not --%s", env, name, got)
		}
	}
	for env := range envRows {
		if _, ok := allEnv[env]; !ok {
			t.Errorf("docs/reference.md lists %s, which no command reads", env)
		}
	}
	for _, m := range flagRef.FindAllStringSubmatch(doc, -1) {
		if !allFlags[m[1]] {
			t.Errorf("docs/reference.md names --%s, which no command has", m[1])
		}
	}
	// And the README links to it instead of a file outside the repository.
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "(docs/reference.md)") || strings.Contains(string(readme), "../shared/") {
		t.Error("README.md should link docs/reference.md and nothing outside the repository")
	}
}
