package mcp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRedirectToAnotherHostCarriesNoCredential: an item's headers with
// keys of every kind, redirected to another host name, reach it with none
// of them and no Referer naming the URL it came from; a redirect on the
// same host keeps them. A reviewer's redirect target received
// X-Api-Key, X-Goog-Api-Key, X-Auth-Token, Private-Token and the like,
// and a Referer with the first URL's token.
func TestRedirectToAnotherHostCarriesNoCredential(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		var got []string
		for _, h := range []string{"Authorization", "X-Api-Key", "Anthropic-Api-Key", "X-Goog-Api-Key", "X-Auth-Token", "Private-Token", "Referer"} {
			if v := r.Header.Get(h); v != "" {
				got = append(got, h+"="+v)
			}
		}
		io.WriteString(w, "got:"+strings.Join(got, ",")+";accept="+r.Header.Get("Accept"))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			// localhost is another host name for the same server
			http.Redirect(w, r, strings.Replace("http://"+r.Host, "127.0.0.1", "localhost", 1)+"/echo", http.StatusFound)
		case "/near":
			http.Redirect(w, r, "/echo", http.StatusFound)
		default:
			echo(w, r)
		}
	}))
	defer srv.Close()
	headers := map[string]any{"Authorization": "Bearer S1", "X-Api-Key": "S2", "Anthropic-Api-Key": "S3", "X-Goog-Api-Key": "S4",
		"X-Auth-Token": "S5", "Private-Token": "S6", "Accept": "text/plain"}
	_, cs := session(t, Config{AllowPrivate: true}, nil)
	rep, _ := callTool(t, cs, "fetch_many", map[string]any{"requests": []map[string]any{
		{"id": "away", "url": srv.URL + "/away?token=Q", "headers": headers},
		{"id": "near", "url": srv.URL + "/near?token=Q", "headers": headers},
	}, "page_size": 2})
	if len(rep.Items) != 2 {
		t.Fatalf("items %+v", rep.Items)
	}
	for _, it := range rep.Items {
		switch it.ID {
		case "away":
			if it.Text != "got:;accept=text/plain" {
				t.Errorf("the other host got %q, want no credential and no Referer, Accept kept", it.Text)
			}
		case "near":
			if !strings.Contains(it.Text, "X-Goog-Api-Key=S4") || !strings.Contains(it.Text, "Authorization=Bearer S1") {
				t.Errorf("the same host got %q, want the item's headers", it.Text)
			}
		}
	}
}
