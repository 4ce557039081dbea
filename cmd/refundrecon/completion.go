package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// cmdCompletion is `completion bash|zsh|fish`: a script built from the
// command table and each command's flags.
func cmdCompletion(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("completion takes one shell: bash, zsh or fish")
	}
	switch strings.ToLower(fs.Arg(0)) {
	case "bash":
		writeBashCompletion(stdout, false)
	case "zsh":
		writeBashCompletion(stdout, true)
	case "fish":
		writeFishCompletion(stdout)
	default:
		return usagef("completion: %q is not bash, zsh or fish", fs.Arg(0))
	}
	return nil
}

// completionEntry is a command as completion needs it.
type completionEntry struct {
	c     command
	words []string // "ledger", "import"
	flags []string // "--since", …
}

func completionEntries() []completionEntry {
	var out []completionEntry
	for _, c := range commands() {
		if c.Hidden {
			continue
		}
		e := completionEntry{c: c, words: strings.Fields(c.Name)}
		if h := flagsOf(c); h != nil {
			h.fs.VisitAll(func(f *flag.Flag) { e.flags = append(e.flags, "--"+f.Name) })
		}
		out = append(out, e)
	}
	return out
}

// topWords are the first words of the commands, and groups maps a group's
// word to its subcommands' second words.
func topWords(es []completionEntry) (top []string, groups map[string][]string) {
	groups = map[string][]string{}
	seen := map[string]bool{}
	for _, e := range es {
		if !seen[e.words[0]] {
			seen[e.words[0]] = true
			top = append(top, e.words[0])
		}
		if len(e.words) == 2 {
			groups[e.words[0]] = append(groups[e.words[0]], e.words[1])
		}
	}
	return top, groups
}

// writeBashCompletion writes bash's completion function; zsh loads the
// same through bashcompinit.
func writeBashCompletion(w io.Writer, zsh bool) {
	es := completionEntries()
	top, groups := topWords(es)
	var commandNames []string
	for _, e := range es {
		commandNames = append(commandNames, e.words...)
	}
	commandNames = uniqueSorted(commandNames)
	if zsh {
		fmt.Fprint(w, "#compdef refundrecon\n# zsh completion for refundrecon: source <(refundrecon completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n")
	} else {
		fmt.Fprint(w, "# bash completion for refundrecon: source <(refundrecon completion bash)\n")
	}
	fmt.Fprintf(w, `_refundrecon() {
    local cur prev i cmd
    local -a args=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev=""
    if [[ $COMP_CWORD -gt 0 ]]; then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) args+=("${COMP_WORDS[i]}") ;;
        esac
    done
    case "$prev" in
        --format) COMPREPLY=($(compgen -W "text json csv html" -- "$cur")); return 0 ;;
        --status) COMPREPLY=($(compgen -W "open all" -- "$cur")); return 0 ;;
    esac
    if [[ ${#args[@]} -eq 0 ]]; then
        COMPREPLY=($(compgen -W "%s --help --version" -- "$cur"))
        return 0
    fi
    cmd="${args[0]}"
    case "$cmd" in
`, strings.Join(top, " "))
	groupNames := make([]string, 0, len(groups))
	for g := range groups {
		groupNames = append(groupNames, g)
	}
	sort.Strings(groupNames)
	for _, g := range groupNames {
		fmt.Fprintf(w, `        %s)
            if [[ ${#args[@]} -eq 1 ]]; then
                COMPREPLY=($(compgen -W "%s" -- "$cur"))
                return 0
            fi
            cmd="%s ${args[1]}" ;;
`, g, strings.Join(groups[g], " "), g)
	}
	fmt.Fprintf(w, `        help)
            COMPREPLY=($(compgen -W "%s" -- "$cur"))
            return 0 ;;
        completion)
            COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur"))
            return 0 ;;
    esac
    if [[ "$cur" == -* ]]; then
        local flags=""
        case "$cmd" in
`, strings.Join(commandNames, " "))
	for _, e := range es {
		fmt.Fprintf(w, "            %q) flags=%q ;;\n", e.c.Name, strings.Join(append(e.flags, "--help"), " "))
	}
	fmt.Fprint(w, `        esac
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    fi
    return 0
}
complete -F _refundrecon refundrecon
`)
}

func writeFishCompletion(w io.Writer) {
	es := completionEntries()
	top, groups := topWords(es)
	fmt.Fprint(w, "# fish completion for refundrecon: refundrecon completion fish > ~/.config/fish/completions/refundrecon.fish\n")
	fmt.Fprint(w, "complete -c refundrecon -f\n")
	summaries := map[string]string{}
	for _, e := range es {
		if len(e.words) == 1 {
			summaries[e.words[0]] = e.c.Summary
		}
	}
	for _, t := range top {
		d := summaries[t]
		if d == "" {
			d = "subcommands: " + strings.Join(groups[t], ", ")
		}
		fmt.Fprintf(w, "complete -c refundrecon -n __fish_use_subcommand -a %s -d %s\n", fishQuote(t), fishQuote(d))
	}
	for _, e := range es {
		cond := "__fish_seen_subcommand_from " + e.words[0]
		if len(e.words) == 2 {
			fmt.Fprintf(w, "complete -c refundrecon -n %s -a %s -d %s\n",
				fishQuote(cond+"; and not __fish_seen_subcommand_from "+strings.Join(groups[e.words[0]], " ")), fishQuote(e.words[1]), fishQuote(e.c.Summary))
			cond += "; and __fish_seen_subcommand_from " + e.words[1]
		}
		for _, f := range e.flags {
			fmt.Fprintf(w, "complete -c refundrecon -n %s -l %s\n", fishQuote(cond), strings.TrimPrefix(f, "--"))
		}
	}
	fmt.Fprintf(w, "complete -c refundrecon -n %s -a 'bash zsh fish'\n", fishQuote("__fish_seen_subcommand_from completion"))
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func uniqueSorted(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}
