package input

import (
	"errors"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		obj, wantID, wantMethod, wantReason string
	}{
		{`{"url":"https://a.example/x"}`, "3", "GET", ""},
		{`{"id":"k","url":"https://a.example/x","body":{"q":1}}`, "k", "POST", ""},
		{`{"id":7,"method":"put","url":"https://a.example/x"}`, "7", "PUT", ""},
		{`{"url":"ftp://a.example/x"}`, "", "", `unsupported URL scheme "ftp" (want http or https)`},
		{`{"url":"/x"}`, "", "", `relative URL "/x" needs --base-url`},
		{`{"id":"k"}`, "", "", "missing url"},
		{`{"url":"https://a.example","header":{}}`, "", "", `unknown field "header" (want id, method, url, headers, body, metadata)`},
	}
	for _, tc := range tests {
		it, err := ParseRequest([]byte(tc.obj), 3)
		if tc.wantReason != "" {
			var bl BadLine
			if !errors.As(err, &bl) || bl.Line != 3 || bl.Reason != tc.wantReason {
				t.Errorf("ParseRequest(%s) = %v, want BadLine{3, %q}", tc.obj, err, tc.wantReason)
			}
			continue
		}
		if err != nil || it.ID != tc.wantID || it.Method != tc.wantMethod || it.Line != 3 {
			t.Errorf("ParseRequest(%s) = %+v, %v; want id %q method %s line 3", tc.obj, it, err, tc.wantID, tc.wantMethod)
		}
	}
}
