package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/refundrecon/refundrecon/reconcile"
)

// binder collects a statement's arguments and writes their placeholders in
// the dialect's style: $1, $2 … on PostgreSQL, ? on SQLite.
type binder struct {
	dialect string
	args    []any
	// named maps a :name already bound to its $n, so that PostgreSQL sees one
	// parameter (of one type) however often a query repeats it.
	named map[string]string
}

func newBinder(dialect string) *binder {
	return &binder{dialect: dialect, named: map[string]string{}}
}

// add binds v and returns its placeholder.
func (b *binder) add(v any) string {
	b.args = append(b.args, v)
	if b.dialect == DialectPostgres {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// list binds every value of vs and returns "p1, p2, …".
func (b *binder) list(vs []string) string {
	var sb strings.Builder
	for i, v := range vs {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.add(v))
	}
	return sb.String()
}

// bindNamed rewrites the :name parameters of query (sqlx's named style) as
// placeholders bound to params. A name params lacks is an error wrapping
// reconcile.ErrConfig.
//
// It does not use sqlx's own compiler, which turns the "::" of a PostgreSQL
// cast into ":" and rejects ":since::timestamptz". This one knows SQL's
// lexical structure: "::" is a cast and is kept, and a colon inside a string
// literal ('…', E'…', $tag$…$tag$), a quoted identifier or a comment is text,
// not a parameter. A name must start a token: in "a[1:n]" there is none.
func (b *binder) bindNamed(query string, params map[string]any) (string, error) {
	var out strings.Builder
	out.Grow(len(query) + 16)
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i < 2 || !isIdentByte(query[i-2]))
			j := skipQuoted(query, i, '\'', escapes)
			out.WriteString(query[i:j])
			i = j
		case c == '"':
			j := skipQuoted(query, i, '"', false)
			out.WriteString(query[i:j])
			i = j
		case c == '-' && i+1 < n && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = n
			} else {
				j += i + 1
			}
			out.WriteString(query[i:j])
			i = j
		case c == '/' && i+1 < n && query[i+1] == '*':
			j := skipBlockComment(query, i)
			out.WriteString(query[i:j])
			i = j
		case c == '$' && (i == 0 || !isIdentByte(query[i-1])):
			j := skipDollarQuoted(query, i)
			out.WriteString(query[i:j])
			i = j
		case c == ':' && i+1 < n && query[i+1] == ':':
			out.WriteString("::")
			i += 2
		case c == ':' && i+1 < n && isIdentStart(query[i+1]) && (i == 0 || !isIdentByte(query[i-1])):
			j := i + 1
			for j < n && isIdentByte(query[j]) {
				j++
			}
			name := query[i+1 : j]
			v, ok := params[name]
			if !ok {
				known := make([]string, 0, len(params))
				for k := range params {
					known = append(known, ":"+k)
				}
				slices.Sort(known)
				return "", fmt.Errorf("unknown parameter :%s (known: %s): %w", name, strings.Join(known, ", "), reconcile.ErrConfig)
			}
			if b.dialect == DialectPostgres {
				p, seen := b.named[name]
				if !seen {
					p = b.add(v)
					b.named[name] = p
				}
				out.WriteString(p)
			} else {
				out.WriteString(b.add(v))
			}
			i = j
		default:
			_, size := utf8.DecodeRuneInString(query[i:])
			out.WriteString(query[i : i+size])
			i += size
		}
	}
	return out.String(), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentByte(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// skipQuoted returns the index just past the quoted text starting at i: a
// doubled quote is part of the text, and so, when escapes is set, is a
// backslash and the byte after it. Unterminated text runs to the end.
func skipQuoted(s string, i int, quote byte, escapes bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case escapes && s[j] == '\\':
			j++
		case s[j] == quote:
			if j+1 < len(s) && s[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(s)
}

// skipBlockComment returns the index just past the /* … */ comment at i;
// PostgreSQL nests them.
func skipBlockComment(s string, i int) int {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j++
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// skipDollarQuoted returns the index just past the PostgreSQL dollar-quoted
// string ($$…$$ or $tag$…$tag$) at i, or i+1 when the $ starts none ($1).
func skipDollarQuoted(s string, i int) int {
	j := i + 1
	if j < len(s) && !isIdentStart(s[j]) && s[j] != '$' {
		return i + 1
	}
	for j < len(s) && isIdentByte(s[j]) {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return i + 1
	}
	tag := s[i : j+1]
	end := strings.Index(s[j+1:], tag)
	if end < 0 {
		return len(s)
	}
	return j + 1 + end + len(tag)
}
