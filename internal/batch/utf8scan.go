package batch

import "unicode/utf8"

// utf8Scan tells whether the bytes written to it, a piece at a time
// however the pieces cut the characters, are valid UTF-8: utf8.Valid of
// them all, without keeping them.
type utf8Scan struct {
	carry [utf8.UTFMax]byte // the start of a character the last piece cut
	n     int
	bad   bool
}

// Write takes the next piece.
func (u *utf8Scan) Write(p []byte) {
	if u.bad {
		return
	}
	if u.n > 0 {
		for len(p) > 0 && !utf8.FullRune(u.carry[:u.n]) {
			u.carry[u.n] = p[0]
			u.n++
			p = p[1:]
		}
		if !utf8.FullRune(u.carry[:u.n]) {
			return // p ended first
		}
		if r, size := utf8.DecodeRune(u.carry[:u.n]); r == utf8.RuneError && size == 1 {
			u.bad = true
			return
		}
		u.n = 0
	}
	k := len(p) // p[k:] starts a character p cuts
	for i := 1; i < utf8.UTFMax && i <= len(p); i++ {
		if c := p[len(p)-i]; utf8.RuneStart(c) {
			if c >= utf8.RuneSelf && !utf8.FullRune(p[len(p)-i:]) {
				k = len(p) - i
			}
			break
		}
	}
	if !utf8.Valid(p[:k]) {
		u.bad = true
		return
	}
	u.n = copy(u.carry[:], p[k:])
}

// Valid reports whether everything written was valid UTF-8.
func (u *utf8Scan) Valid() bool { return !u.bad && u.n == 0 }
