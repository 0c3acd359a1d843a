package mcp

import (
	"fmt"
	"strconv"
	"strings"
)

// text writes a Report for a model to read: the summary in a sentence,
// then each item on a line with its text below it.
func (rep Report) text() string {
	var b strings.Builder
	s := rep.Summary
	fmt.Fprintf(&b, "handle %s: %s; %d items: %d succeeded, %d failed", s.Handle, s.State, s.Total, s.Succeeded, s.Failed)
	if s.Pending > 0 {
		fmt.Fprintf(&b, ", %d pending", s.Pending)
	}
	fmt.Fprintf(&b, "; %.2fs, %.1f items/s\n", s.Elapsed, s.Rate)
	if len(s.ByStatus) > 0 {
		b.WriteString("by status:")
		for _, k := range sortedKeys(s.ByStatus) {
			fmt.Fprintf(&b, " %s×%d", k, s.ByStatus[k])
		}
		b.WriteByte('\n')
	}
	if len(s.ByError) > 0 {
		b.WriteString("by error:")
		for _, k := range sortedKeys(s.ByError) {
			fmt.Fprintf(&b, " %s×%d", k, s.ByError[k])
		}
		b.WriteByte('\n')
	}
	switch {
	case len(rep.Items) == 0:
		fmt.Fprintf(&b, "no items from offset %d%s\n", rep.Offset, filterWords(rep.Filter))
	default:
		fmt.Fprintf(&b, "items %d to %d%s", rep.Offset, rep.Offset+len(rep.Items)-1, filterWords(rep.Filter))
		if rep.NextOffset > 0 {
			fmt.Fprintf(&b, " (more: get_results handle=%s offset=%d", s.Handle, rep.NextOffset)
			if rep.Filter != "" {
				fmt.Fprintf(&b, " filter=%s", rep.Filter)
			}
			if rep.limit != 0 && rep.limit != defaultPage {
				fmt.Fprintf(&b, " limit=%d", rep.limit)
			}
			b.WriteString(rep.maxLengthWords())
			b.WriteByte(')')
		}
		b.WriteString(":\n")
	}
	for _, it := range rep.Items {
		fmt.Fprintf(&b, "[%d] id=%s %s %s → ", it.Index, it.ID, it.Method, it.URL)
		switch {
		case it.Pending:
			b.WriteString("pending\n")
			continue
		case it.OK:
			fmt.Fprintf(&b, "%d %s, %d bytes", it.Status, orNone(it.ContentType), it.Size)
		case it.Status != 0:
			fmt.Fprintf(&b, "failed: %s (%s, %d bytes)", it.Error, orNone(it.ContentType), it.Size)
		default:
			fmt.Fprintf(&b, "failed (%s): %s", it.ErrorClass, it.Error)
		}
		if it.Truncated {
			b.WriteString(" (truncated at the body cap)")
		}
		if it.Partial {
			b.WriteString(" (store full: only the start kept)")
		}
		if it.Binary {
			b.WriteString(" (binary, not shown)")
		}
		b.WriteByte('\n')
		if it.Text != "" {
			b.WriteString(indent(it.Text))
			if it.MoreFrom > 0 {
				fmt.Fprintf(&b, "\n    … (%d of %d bytes shown; more: get_results handle=%s offset=%d limit=1 start_index=%d%s)",
					it.MoreFrom, it.Size, s.Handle, it.Index, it.MoreFrom, rep.maxLengthWords())
			}
			b.WriteByte('\n')
		}
	}
	if rep.Note != "" {
		b.WriteString(rep.Note)
		b.WriteByte('\n')
	}
	return b.String()
}

// maxLengthWords is the max_length argument of a hint, when not the
// default.
func (rep Report) maxLengthWords() string {
	if rep.maxLength == 0 || rep.maxLength == defaultMaxLength {
		return ""
	}
	return fmt.Sprintf(" max_length=%d", rep.maxLength)
}

func filterWords(f string) string {
	switch f {
	case "ok":
		return " (succeeded only)"
	case "failed":
		return " (failed only)"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}

// indent sets text off from the item lines.
func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func itoa(n int) string { return strconv.Itoa(n) }
