package approval

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"
)

// view is what the template shows: the form (Request set), a refusal, or
// the approval's confirmation.
type view struct {
	Title    string
	Refused  string
	Approved bool
	Error    string

	Req     *Request
	Action  string // the form's action path
	CSRF    string
	Share   string
	Noun    string // the object type, plural when Count is not 1
	Expires string
}

func (s *Server) formView(p *page, errText string) view {
	r := p.req
	v := view{Title: r.Title, Req: &r, Action: "/approve/" + p.token, CSRF: p.csrf, Error: errText,
		Expires: p.expires.UTC().Format(time.RFC1123), Noun: r.ObjectType}
	if r.Count != 1 && r.ObjectType != "" {
		v.Noun += "s"
	}
	if r.OrgTotal > 0 {
		v.Share = fmt.Sprintf("%s of %s %ss in the organization (%s%%)", strconv.Itoa(r.Count), strconv.Itoa(r.OrgTotal), r.ObjectType,
			strconv.FormatFloat(float64(r.Count)*100/float64(r.OrgTotal), 'f', 1, 64))
	}
	return v
}

// render writes v; html/template escapes every value (lead names are
// hostile text).
func (s *Server) render(w http.ResponseWriter, status int, v view) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		s.log.Error("bulkguard.approval render", "err", err)
		http.Error(w, "the page could not be rendered; nothing was approved", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>bulkguard approval{{with .Title}}: {{.}}{{end}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#111}
.env{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-weight:600}
.env-sandbox{background:#dfe}.env-close{background:#fdd}
.warn{background:#fff4d6;padding:.5rem;border-left:4px solid #e0a000}
.err{background:#fde;padding:.5rem;border-left:4px solid #c00}
code{font-size:1.1em;background:#eee;padding:.1rem .3rem}
input[type=text]{font-size:1.1em;width:100%;box-sizing:border-box;padding:.4rem}
button{font-size:1.1em;margin-top:.8rem;padding:.4rem 1.2rem}
</style>
</head>
<body>
{{if .Refused}}
<h1>Not approved</h1>
<p id="refused">{{.Refused}}</p>
{{else if .Approved}}
<h1>Approved</h1>
<p id="approved">You approved: {{.Title}}. Go back to your assistant and tell it to go ahead: when it calls the tool again, it runs. This link cannot be used again.</p>
{{else}}{{with .Req}}
<h1 id="title">{{.Title}}</h1>
<p>Environment: <span id="env" class="env env-{{.Environment}}">{{.Environment}}</span></p>
<p id="summary">{{.Summary}}</p>
<p><strong id="count">{{.Count}}</strong> {{$.Noun}}{{with $.Share}} — <span id="share">{{.}}</span>{{end}}</p>
{{if .Irreversible}}<p><strong>This cannot be undone.</strong></p>{{end}}
{{with .Backup}}<p id="backup">Backup: {{.}}</p>{{end}}
{{range .Warnings}}<p class="warn">Warning: {{.}}</p>{{end}}
{{if .Sample}}<h2>Sample</h2>
<ul id="sample">{{range .Sample}}<li><span class="name">{{.Name}}</span> <small>{{.ID}}{{with .Detail}} · {{.}}{{end}}</small></li>{{end}}</ul>{{end}}
<p>This link expires {{$.Expires}}.</p>
{{with $.Error}}<p id="error" class="err">{{.}}</p>{{end}}
<form method="post" action="{{$.Action}}">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<label for="phrase">To approve, type <code id="phrase-shown">{{.Phrase}}</code></label>
<input type="text" id="phrase" name="phrase" autocomplete="off" autocapitalize="off" spellcheck="false" required autofocus>
<button type="submit" id="approve">Approve</button>
</form>
<p>If you did not ask for this, close this page: nothing happens without your phrase.</p>
{{end}}{{end}}
</body>
</html>
`))
