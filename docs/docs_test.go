package docs_test

// These tests keep the comments of every Go file in the module pointing at
// documents a reader of the repository has: the pages in this directory.
// A comment may cite a section of close-api.md or mcp-notes.md by its
// section sign and number, an open question of close-api.md by its number,
// or a section of DESIGN.md by its quoted heading; each must exist here.
// Paths into the shared directory beside the repository are refused, except
// the two test-data directories that tests copy from (real queries and
// Close examples), which are provenance notes, not citations.

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// index is what the pages in this directory offer to be cited.
type index struct {
	sections      map[string]map[string]bool // page ("close-api.md") → section ids
	openQuestions map[int]bool               // numbered items under close-api.md's "Open questions"
	designHeads   map[string]bool            // lower-cased headings of design.md
	files         map[string]bool            // file names in this directory
}

var (
	// headingRE is a Markdown heading.
	headingRE = regexp.MustCompile(`^#{1,6}\s+(.+?)\s*$`)
	// sectionIDRE is the section number a heading starts with: "1.2 …",
	// "3. …", "A. …", "E.1 …".
	sectionIDRE = regexp.MustCompile(`^([0-9]+|[A-Z])((?:\.[0-9]+)*)\.?(?:\s|$)`)
	// itemRE is a numbered list item.
	itemRE = regexp.MustCompile(`^([0-9]+)\.\s`)

	// tokenRE finds, in order, what a comment may point at: a path into the
	// shared directory, a Markdown file name (a "docs/" prefix kept), the
	// page names used without ".md", an RFC section (never ours) and a
	// section sign with a number.
	tokenRE = regexp.MustCompile(`(?:\.\./|/work/)shared/[^\s)"'` + "`" + `,;]*` +
		`|(?:\bdocs/)?\b[A-Za-z0-9_-]+\.md\b` +
		`|\b(?:close-api|mcp-notes)\b` +
		`|\bRFC\s*[0-9]+\s*§\s*[0-9A-Z][0-9.]*` +
		`|§\s*(?:[0-9]+(?:\.[0-9]+)*|[A-Z](?:\.[0-9]+)*)\b`)
	openQuestionRE = regexp.MustCompile(`\bclose-api(?:\.md)?\s+open\s+questions?\s+([0-9]+)`)
	designHeadRE   = regexp.MustCompile(`(?i)\bdesign\.md\s+"([^"]+)"`)
)

// sharedAllowed are the directories under the shared tree that tests copy
// their data from; a comment may say where its test data came from.
var sharedAllowed = []string{"real-queries", "close-examples"}

func loadIndex(t *testing.T) *index {
	t.Helper()
	ix := &index{
		sections:      map[string]map[string]bool{},
		openQuestions: map[int]bool{},
		designHeads:   map[string]bool{},
		files:         map[string]bool{},
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ix.files[e.Name()] = true
	}
	// Page names are built from their base so that a rewrite of citations
	// across the module (say, prefixing docs/ to every page name) cannot
	// change what this test opens.
	for _, base := range []string{"close-api", "mcp-notes"} {
		page := base + ".md"
		ids := map[string]bool{}
		inOpen := false
		forEachLine(t, page, func(line string) {
			if m := headingRE.FindStringSubmatch(line); m != nil {
				inOpen = base == "close-api" && strings.EqualFold(m[1], "Open questions")
				if s := sectionIDRE.FindStringSubmatch(m[1]); s != nil {
					id := s[1] + s[2]
					if ids[id] {
						t.Errorf("%s: section %s appears twice", page, id)
					}
					ids[id] = true
				}
				return
			}
			if inOpen {
				if m := itemRE.FindStringSubmatch(line); m != nil {
					var n int
					if _, err := fmt.Sscan(m[1], &n); err == nil {
						ix.openQuestions[n] = true
					}
				}
			}
		})
		if len(ids) == 0 {
			t.Fatalf("%s: no numbered headings", page)
		}
		ix.sections[page] = ids
	}
	forEachLine(t, "design.md", func(line string) {
		if m := headingRE.FindStringSubmatch(line); m != nil {
			ix.designHeads[strings.ToLower(m[1])] = true
		}
	})
	return ix
}

func forEachLine(t *testing.T, name string, f func(string)) {
	t.Helper()
	file, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = file.Close() }()
	sc := bufio.NewScanner(file)
	fence := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		if !fence {
			f(line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// checker reads the comments of one Go file in order. A section sign with
// no page name right before it belongs to the page named last in the file;
// once any other Markdown file is named it is not ours and is not checked,
// nor is one that follows an RFC number.
type checker struct {
	ix  *index
	cur string // page the next bare section sign belongs to; "" = not ours
}

// problem is one bad citation; at is its byte offset in the comment text.
type problem struct {
	at  int
	msg string
}

// check returns what is wrong with one comment's text.
func (c *checker) check(text string) []problem {
	var problems []problem
	add := func(at int, format string, a ...any) {
		problems = append(problems, problem{at, fmt.Sprintf(format, a...)})
	}
	for _, loc := range tokenRE.FindAllStringIndex(text, -1) {
		tok := text[loc[0]:loc[1]]
		switch {
		case strings.Contains(tok, "shared/"):
			rest := tok[strings.Index(tok, "shared/")+len("shared/"):]
			if !slices.ContainsFunc(sharedAllowed, func(d string) bool { return rest == d || strings.HasPrefix(rest, d+"/") }) {
				add(loc[0], "cites %q, outside the repository: cite docs/ instead", tok)
			}
			c.cur = ""
		case strings.HasPrefix(tok, "RFC"):
			// another specification's section
		case strings.HasPrefix(tok, "§"):
			if c.cur == "" {
				continue
			}
			id := strings.TrimSpace(strings.TrimPrefix(tok, "§"))
			if !c.ix.sections[c.cur][id] {
				add(loc[0], "cites %s §%s, which is not a heading of docs/%s", c.cur, id, c.cur)
			}
		default:
			name := strings.TrimSuffix(tok, ".md")
			inDocs := strings.HasPrefix(name, "docs/")
			name = strings.TrimPrefix(name, "docs/")
			switch name {
			case "close-api", "mcp-notes":
				c.cur = name + ".md"
			default:
				c.cur = ""
				if strings.EqualFold(name, "design") && !c.ix.files["design.md"] {
					add(loc[0], "cites DESIGN.md, but docs/design.md is missing")
				}
				if inDocs && !c.ix.files[name+".md"] {
					add(loc[0], "cites %s, which is not in docs/", tok)
				}
			}
		}
	}
	for _, m := range openQuestionRE.FindAllStringSubmatchIndex(text, -1) {
		num := text[m[2]:m[3]]
		var n int
		if _, err := fmt.Sscan(num, &n); err != nil || !c.ix.openQuestions[n] {
			add(m[0], "cites close-api.md open question %s, which docs/close-api.md does not list", num)
		}
	}
	for _, m := range designHeadRE.FindAllStringSubmatchIndex(text, -1) {
		if head := text[m[2]:m[3]]; !c.ix.designHeads[strings.ToLower(head)] {
			add(m[0], "cites DESIGN.md %q, which is not a heading of docs/design.md", head)
		}
	}
	return problems
}

// TestCommentCitations reads every comment of every Go file in the module.
func TestCommentCitations(t *testing.T) {
	ix := loadIndex(t)
	root := ".."
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found beside docs/: %v", err)
	}
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != root && (n == "testdata" || n == "vendor" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		files++
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		c := &checker{ix: ix}
		for _, cg := range f.Comments {
			text := commentText(cg)
			for _, p := range c.check(text) {
				pos := fset.Position(cg.Pos())
				t.Errorf("%s:%d: %s", pos.Filename, pos.Line+strings.Count(text[:p.at], "\n"), p.msg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no Go files found under the module root")
	}
}

// commentText joins a comment group's lines without their comment markers,
// one line of text per line of source, so a citation split over two lines
// is still read as one and offsets map back to source lines.
func commentText(cg *ast.CommentGroup) string {
	lines := make([]string, 0, len(cg.List))
	for _, c := range cg.List {
		text := c.Text
		if rest, ok := strings.CutPrefix(text, "//"); ok {
			text = rest
		} else {
			text = strings.TrimSuffix(strings.TrimPrefix(text, "/*"), "*/")
		}
		lines = append(lines, text)
	}
	return strings.Join(lines, "\n")
}

// TestChecker shows the checker tells good citations from bad ones, one
// file's comments at a time.
func TestChecker(t *testing.T) {
	ix := loadIndex(t)
	cases := []struct {
		name     string
		comments []string
		problems int
	}{
		{"existing section", []string{"as Close documents (close-api.md §1.4, [INF])"}, 0},
		{"docs prefix", []string{"see docs/close-api.md §2.4 and docs/mcp-notes.md §A.5"}, 0},
		{"missing section", []string{"close-api.md §9.9"}, 1},
		{"missing mcp section", []string{"mcp-notes.md §Z.1"}, 1},
		{"page name without .md", []string{"(mcp-notes §D.1)"}, 0},
		{"split over lines", []string{"the shape of close-api.md\n§4.3 [OBS]"}, 0},
		{"list of sections", []string{"mcp-notes.md §0.5, §C.1 and §Q.7"}, 1},
		{"bare sign carries within a file", []string{"close-api.md §2.4", "at most 10,000 (§2.4), not §2.99"}, 1},
		{"bare sign after another document", []string{"close-api.md §2.4", "README.md §7.7"}, 0},
		{"RFC section", []string{"RFC 6750 §3.1: invalid_token"}, 0},
		{"shared path", []string{"as Close does (../shared/close-api.md)"}, 1},
		{"shared path absolute", []string{"see /work/shared/mcp-notes.md"}, 1},
		{"shared test data", []string{"copied from ../shared/real-queries into testdata", "../shared/close-examples/x.json"}, 0},
		{"docs file missing", []string{"docs/mcp.md §A.5"}, 1},
		{"open question", []string{"lead when there is none; close-api.md open question\n2, [INF]"}, 0},
		{"open question missing", []string{"close-api.md open question 99"}, 1},
		{"design heading", []string{`plan → confirm → execute (DESIGN.md "The guard")`}, 0},
		{"design heading missing", []string{`DESIGN.md "Nowhere"`}, 1},
		{"no citation", []string{"counts the leads; 30 s cursor"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &checker{ix: ix}
			var got []string
			for _, text := range tc.comments {
				for _, p := range c.check(text) {
					got = append(got, p.msg)
				}
			}
			if len(got) != tc.problems {
				t.Errorf("%d problems, want %d: %q", len(got), tc.problems, got)
			}
		})
	}
}
