package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// lineHandler renders log records as the lines pgmi prints: the message,
// then the attributes as " key=value"; a WARN or ERROR record after
// "warning: " or "error: ", a DEBUG record after debugPrefix. A server
// notice (engine.LogNotice: the engine.NoticeKey group) is printed bare,
// whatever its level. The message and every attribute are redacted
// (fault.Redact). print gets the text of one record, which may hold
// several lines.
type lineHandler struct {
	min         slog.Level
	debugPrefix string
	print       func(text string)
	attrs       []slog.Attr // from WithAttrs, keys qualified by their groups
	group       string      // "" or the open groups, "a.b."
}

// newLineLogger is a logger of a lineHandler.
func newLineLogger(min slog.Level, debugPrefix string, print func(string)) *slog.Logger {
	return slog.New(&lineHandler{min: min, debugPrefix: debugPrefix, print: print})
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(fault.Redact(r.Message))
	notice := false
	write := func(a slog.Attr) {
		if h.group == "" && a.Key == engine.NoticeKey {
			notice = true
			return
		}
		appendAttr(&b, h.group, a)
	}
	for _, a := range h.attrs {
		appendAttr(&b, "", a)
	}
	r.Attrs(func(a slog.Attr) bool { write(a); return true })
	text := b.String()
	switch {
	case notice:
	case r.Level >= slog.LevelError:
		text = "error: " + text
	case r.Level >= slog.LevelWarn:
		text = "warning: " + text
	case r.Level < slog.LevelInfo:
		text = h.debugPrefix + text
	}
	h.print(text)
	return nil
}

// appendAttr writes " key=value", a group's attributes with the group's
// name before their keys; strings (and errors, Stringers …) redacted.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	v := a.Value.String()
	if a.Value.Kind() == slog.KindAny {
		v = fmt.Sprint(a.Value.Any())
	}
	fmt.Fprintf(b, " %s%s=%s", prefix, a.Key, fault.Redact(v))
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range as {
		if h.group != "" {
			a = slog.Group(strings.TrimSuffix(h.group, "."), a)
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}
