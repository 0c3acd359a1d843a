package sluice

import (
	"strconv"
	"strings"
)

// String describes the limits the way the faces' start lines name them:
// "concurrency 8 (adaptive), rate 10/s, burst 3, window 100/m, tokens
// 40000/m". A zero Concurrency reads as DefaultConcurrency, the ceiling a
// Gate uses; a zero Rate as "rate learned from the API's headers". The
// margin a Gate adds for the network is not shown: these are the numbers
// the user gave.
func (l Limits) String() string {
	c := l.Concurrency
	if c <= 0 {
		c = DefaultConcurrency
	}
	var b strings.Builder
	b.WriteString("concurrency ")
	b.WriteString(strconv.Itoa(c))
	if !l.FixedConcurrency {
		b.WriteString(" (adaptive)")
	}
	if l.Rate.IsZero() {
		b.WriteString(", rate learned from the API's headers")
	} else {
		b.WriteString(", rate " + l.Rate.String())
		if l.Burst > 1 {
			b.WriteString(", burst " + strconv.Itoa(l.Burst))
		}
	}
	for _, r := range []struct {
		name string
		rate Rate
	}{{"window", l.Window}, {"tokens", l.Tokens}, {"input tokens", l.InputTokens}, {"output tokens", l.OutputTokens}} {
		if !r.rate.IsZero() {
			b.WriteString(", " + r.name + " " + r.rate.String())
		}
	}
	return b.String()
}
