package batch

import (
	"testing"
	"unicode/utf8"
)

// FuzzUTF8Scan holds utf8Scan to utf8.Valid, however the pieces cut the
// bytes.
func FuzzUTF8Scan(f *testing.F) {
	for _, s := range []string{"", "abc", "é", "\xff", "a\xc3", "\xe2\x82\xac€", "\xf0\x9f\x98", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xc3\x28"} {
		f.Add([]byte(s), []byte{1, 2})
	}
	f.Fuzz(func(t *testing.T, b, cuts []byte) {
		var u utf8Scan
		rest := b
		for i := 0; len(rest) > 0; i++ {
			k := len(rest)
			if len(cuts) > 0 {
				k = min(k, 1+int(cuts[i%len(cuts)]%4))
			}
			u.Write(rest[:k])
			rest = rest[k:]
		}
		if got, want := u.Valid(), utf8.Valid(b); got != want {
			t.Errorf("utf8Scan of %q in pieces %v: Valid = %v, utf8.Valid says %v", b, cuts, got, want)
		}
	})
}
