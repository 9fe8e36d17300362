package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// writer narrates the walkthrough. Colour, the redrawn progress bar and the
// typing effect are used only when the output is a terminal (and NO_COLOR
// is unset); piped or captured output is plain lines.
type writer struct {
	mu  sync.Mutex
	out io.Writer
	tty bool
}

func newWriter(f *os.File) *writer {
	st, err := f.Stat()
	tty := err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
	return &writer{out: f, tty: tty}
}

const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	blue   = "\x1b[34m"
	cyan   = "\x1b[36m"
)

func (w *writer) paint(code, s string) string {
	if !w.tty || s == "" {
		return s
	}
	return code + s + reset
}

func (w *writer) bold(s string) string { return w.paint(bold, s) }
func (w *writer) dim(s string) string  { return w.paint(dim, s) }

func (w *writer) println(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintln(w.out, s)
}

func (w *writer) title(s string) { w.println(w.paint(bold, s) + "\n") }
func (w *writer) note(s string)  { w.println(w.dim(s)) }

// step starts a section.
func (w *writer) step(s string) { w.println("\n" + w.paint(bold+blue, "▸ "+s)) }

func (w *writer) cmd(s string) { w.println("  " + w.dim("$ "+s)) }

// say is the assistant speaking.
func (w *writer) say(s string) { w.println("\n" + w.paint(bold+cyan, "assistant:") + " " + s) }

// call shows a tool call with its arguments on one line.
func (w *writer) call(name string, args map[string]any) {
	b, _ := json.Marshal(args)
	a := string(b)
	if len(a) > 110 {
		a = a[:107] + "…"
	}
	w.println("  " + w.paint(yellow, "→ "+name) + " " + w.dim(a))
}

func (w *writer) result(format string, a ...any) {
	w.println("  " + w.paint(green, "✓ ") + fmt.Sprintf(format, a...))
}

func (w *writer) item(format string, a ...any) { w.println("      " + fmt.Sprintf(format, a...)) }

func (w *writer) field(name, value string) {
	w.println(fmt.Sprintf("    %s %s", w.bold(fmt.Sprintf("%-20s", name+":")), value))
}

// form shows bulkguard's confirmation form as a client would.
func (w *writer) form(message string) {
	w.println("\n  " + w.paint(bold+yellow, "┌ bulkguard asks you to confirm ─────────────────────────────"))
	for _, line := range strings.Split(strings.TrimSpace(message), "\n") {
		w.println("  " + w.paint(yellow, "│ ") + line)
	}
	w.println("  " + w.paint(bold+yellow, "└ Type the phrase to confirm:"))
}

// typed shows what the person types into the form.
func (w *writer) typed(s string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprint(w.out, "    "+w.paint(bold, "you type: "))
	if w.tty {
		for _, r := range s {
			fmt.Fprint(w.out, string(r))
			time.Sleep(35 * time.Millisecond)
		}
		fmt.Fprintln(w.out)
		return
	}
	fmt.Fprintln(w.out, s)
}

func (w *writer) fail(err error) {
	w.println("\n" + w.paint(bold+red, "walkthrough failed: ") + err.Error())
}

// progressBar draws the job's progress: redrawn in place on a terminal, a
// line per quarter otherwise.
type progressBar struct {
	w       *writer
	last    int // last quarter printed (plain output)
	drawn   bool
	lastPct float64
}

func (w *writer) progress() *progressBar { return &progressBar{w: w, last: -1} }

func (b *progressBar) render(processed, total int, pct float64) string {
	const width = 30
	fill := int(pct / 100 * width)
	fill = max(0, min(width, fill))
	return fmt.Sprintf("  [%s%s] %5.1f%%  %d/%d leads deleted",
		b.w.paint(green, strings.Repeat("█", fill)), strings.Repeat("░", width-fill), pct, processed, total)
}

func (b *progressBar) update(processed, total int, pct float64) {
	b.lastPct = pct
	if b.w.tty {
		b.w.mu.Lock()
		fmt.Fprint(b.w.out, "\r"+b.render(processed, total, pct))
		b.w.mu.Unlock()
		b.drawn = true
		return
	}
	if q := int(pct / 25); q > b.last {
		b.last = q
		b.w.println(b.render(processed, total, pct))
	}
}

func (b *progressBar) done() {
	if b.drawn {
		b.w.println("")
	}
}
