package activity

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// PageName is the name of the HTML page WritePage writes in the config
// directory.
const PageName = "activity.html"

// pageTmpl is the page: a plain table, no script, nothing fetched (its
// Content-Security-Policy forbids both), every value escaped by
// html/template.
var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Tether: recent activity</title>
<style>
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd}
th{background:#f4f4f4}.bad{color:#a00}.muted{color:#777}
</style></head><body>
<h1>Recent activity on this computer</h1>
<p class="muted">Every command that reached this computer from a paired browser, newest first ({{.Shown}} of {{.Total}}); written {{.Written}}. Typed text is never recorded, only its length.</p>
{{if .Rows}}<table><thead><tr><th>Time</th><th>Browser</th><th>Command</th><th>Arguments</th><th>Result</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Time}}</td><td>{{if .Browser}}{{.Browser}}{{else}}<span class="muted">unknown</span>{{end}}</td><td>{{.Command}}</td><td>{{.Args}}</td><td{{if not .OK}} class="bad"{{end}}>{{.Result}}</td></tr>
{{end}}</tbody></table>{{else}}<p>No command has reached this computer yet.</p>{{end}}
</body></html>
`))

// pageRow is one entry as the page shows it.
type pageRow struct {
	Time, Browser, Command, Args, Result string
	OK                                   bool
}

// WritePage writes the newest limit entries of the log of config directory
// dir (0 means 500) as an HTML page, dir/activity.html, owner-only, and
// returns its path: the tray's "Recent activity…" opens it in the default
// browser. The page is replaced whole (written beside and renamed). It
// blocks on the disk.
func WritePage(dir string, limit int) (string, error) {
	if limit <= 0 {
		limit = 500
	}
	entries, err := Read(dir)
	if err != nil {
		return "", err
	}
	total := len(entries)
	if len(entries) > limit {
		entries = entries[len(entries)-limit:]
	}
	slices.Reverse(entries)
	rows := make([]pageRow, 0, len(entries))
	for _, e := range entries {
		r := pageRow{Time: e.Time.Local().Format("2006-01-02 15:04:05"), Browser: e.Browser, Command: e.Command,
			Args: ArgsText(e.Args), Result: "ok", OK: e.OK}
		if !e.OK {
			r.Result = "refused or failed: " + e.Code
		}
		rows = append(rows, r)
	}
	var b bytes.Buffer
	err = pageTmpl.Execute(&b, map[string]any{"Rows": rows, "Shown": len(rows), "Total": total,
		"Written": time.Now().Format("2006-01-02 15:04:05")})
	if err != nil {
		return "", fmt.Errorf("activity: page: %w", err)
	}
	path := filepath.Join(dir, PageName)
	tmp, err := os.CreateTemp(dir, PageName+".*")
	if err != nil {
		return "", fmt.Errorf("activity: page: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return "", fmt.Errorf("activity: page: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("activity: page: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("activity: page: %w", err)
	}
	return path, nil
}

// ArgsText writes an argument summary as sorted name=value pairs ("-" for
// none), lists joined by commas.
func ArgsText(args map[string]any) string {
	if len(args) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := args[k]
		if list, ok := v.([]any); ok {
			s := make([]string, len(list))
			for i, x := range list {
				s[i] = fmt.Sprint(x)
			}
			v = strings.Join(s, ",")
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, " ")
}
