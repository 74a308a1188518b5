package api

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/klauspost/compress/gzhttp"
)

// The web pages: the fleet on /, a target on /targets/{name}, and their
// assets under /ui/. They are static (HTML, CSS, JavaScript and uPlot,
// vendored by `make ui`) and read the public REST API from the browser,
// so they hold no data and are served to all; the API they call admits
// each read as it admits any other. The Content-Security-Policy lets them
// load nothing but this server's own files.
//
//go:embed ui
var uiFiles embed.FS

// pageCSP keeps the pages to this server: no inline script, no other
// origin, not framed.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// uiHandlers registers the pages and their assets on mux.
func uiHandlers(mux *http.ServeMux, wrap func(name string, h http.Handler) http.Handler) {
	assets, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded directory exists: a build error otherwise
	}
	page := func(file string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w)
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, assets, file)
		})
	}
	static := http.FileServerFS(assets)
	mux.Handle("GET /{$}", wrap("fleet_page", page("index.html")))
	mux.Handle("GET /targets/{name}", wrap("target_page", page("target.html")))
	mux.Handle("GET /ui/", wrap("ui_assets", gzhttp.GzipHandler(http.StripPrefix("/ui", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/index.html" || r.URL.Path == "/target.html" {
			http.NotFound(w, r) // the pages have their own paths
			return
		}
		secure(w)
		w.Header().Set("Cache-Control", "no-cache")
		static.ServeHTTP(w, r)
	})))))
}

func secure(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
}
