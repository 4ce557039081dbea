package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeOverview is `refundrecon help`: every command of the table.
func writeOverview(w io.Writer) {
	fmt.Fprint(w, `refundrecon compares the refunds your ledger calls complete with Stripe's own
refund records, and reports every mismatch.

Usage:
  refundrecon COMMAND [ARGUMENTS] [FLAGS]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		if !c.Hidden {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.Name+" "+c.Args), c.Summary)
		}
	}
	tw.Flush()
	fmt.Fprint(w, `
Every setting is a flag and an environment variable; the flag wins.
Run 'refundrecon help COMMAND' for a command's arguments, flags and examples.
Exit status: 0 done, 1 the run failed, 2 bad usage or configuration,
3 open discrepancies remain (with --exit-code). See docs/reference.md.
`)
}

func names(cs []command) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return strings.Join(out, ", ")
}

// cmdHelp is `help [COMMAND]`.
func cmdHelp(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("help", flag.ContinueOnError)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		writeOverview(stdout)
		return nil
	}
	c, rest, group, ok := findCommand(fs.Args())
	if !ok || len(rest) > 0 {
		if len(group) > 0 && len(fs.Args()) == 1 {
			fmt.Fprintf(stdout, "refundrecon %s: %s\n\nRun 'refundrecon help %s SUBCOMMAND' for one.\n", fs.Arg(0), names(group), fs.Arg(0))
			return nil
		}
		return usagef("help: unknown command %q", strings.Join(fs.Args(), " "))
	}
	return writeCommandHelp(stdout, c, flagsOf(c))
}

// flagLine is one flag as help shows it.
type flagLine struct {
	name, value, usage, env, def string
}

// flagLines lists h's flags: the command's own first, then the shared
// settings (those with a variable), each alphabetically.
func flagLines(h *helpRequest) (own, shared []flagLine) {
	if h == nil {
		return nil, nil
	}
	h.fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		if value == "value" {
			value = "VALUE"
		}
		l := flagLine{name: f.Name, value: strings.ToUpper(value), usage: usage, def: f.DefValue}
		if env, ok := h.env[f.Name]; ok {
			l.env, l.def = env, h.defaults[f.Name]
			shared = append(shared, l)
			return
		}
		if isBoolFlag(f) {
			l.value = ""
			if l.def == "false" {
				l.def = ""
			}
		}
		own = append(own, l)
	})
	return own, shared
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// writeCommandHelp is `help COMMAND` and `COMMAND --help`: the summary, the
// usage line, the arguments, every flag with its variable and default, and
// the examples.
func writeCommandHelp(w io.Writer, c command, h *helpRequest) error {
	own, shared := flagLines(h)
	fmt.Fprintf(w, "refundrecon %s: %s\n\nUsage:\n  refundrecon %s", c.Name, c.Summary, c.Name)
	if c.Args != "" {
		fmt.Fprintf(w, " %s", c.Args)
	}
	if len(own)+len(shared) > 0 {
		fmt.Fprint(w, " [FLAGS]")
	}
	fmt.Fprintln(w)
	if len(c.ArgsHelp) > 0 {
		fmt.Fprint(w, "\nArguments:\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range c.ArgsHelp {
			name, what, _ := strings.Cut(a, "  ")
			fmt.Fprintf(tw, "  %s\t%s\n", name, strings.TrimSpace(what))
		}
		tw.Flush()
	}
	section := func(title string, lines []flagLine) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s:\n", title)
		for _, l := range lines {
			head := "--" + l.name
			if l.value != "" {
				head += " " + l.value
			}
			fmt.Fprintf(w, "  %s\n      %s", head, l.usage)
			var notes []string
			if l.env != "" {
				notes = append(notes, "env "+l.env)
			}
			if l.def != "" {
				notes = append(notes, "default "+l.def)
			}
			if len(notes) > 0 {
				fmt.Fprintf(w, " [%s]", strings.Join(notes, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	section("Flags", own)
	section("Settings (a flag, or the environment variable; the flag wins)", shared)
	if len(c.Examples) > 0 {
		fmt.Fprint(w, "\nExamples:\n")
		for _, e := range c.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	return nil
}
