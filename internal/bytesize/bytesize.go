// Package bytesize reads and writes sizes in bytes as people write them in
// flags and configuration files: 1048576, 512KiB, 32MiB, 5MB.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a size in bytes: a count, or a count with a unit of KiB, MiB
// or GiB (powers of 1024), KB, MB or GB (powers of 1000), or B; units are
// case-insensitive and may follow a space. Negative, fractional and
// overflowing sizes are errors.
func Parse(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30}[strings.ToUpper(unit)]
	if num == "" || mult == 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes, or one with a unit such as 512KiB or 32MiB", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return n * mult, nil
}

// Format writes n bytes as Parse reads it, in the largest binary unit that
// divides it.
func Format(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
