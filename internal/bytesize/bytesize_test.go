package bytesize

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"100", 100, true}, {"32MiB", 32 << 20, true}, {"32 MiB", 32 << 20, true}, {"1kib", 1024, true},
		{"2GiB", 2 << 30, true}, {"5MB", 5e6, true}, {"3MB", 3e6, true}, {"7B", 7, true}, {"10 KiB", 10 << 10, true},
		{"", 0, false}, {"MiB", 0, false}, {"1.5MiB", 0, false}, {"-1", 0, false}, {"3TB", 0, false},
		{"99999999999999999999", 0, false}, {"9999999999GiB", 0, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok {
			if back, err := Parse(Format(got)); err != nil || back != got {
				t.Errorf("Format(%d) = %q reads back as %d, %v", got, Format(got), back, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"32MiB", "100", "1 kb", "9223372036854775807", "4611686018427387904GiB", "-1B", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err == nil && n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		if err == nil {
			if back, err := Parse(Format(n)); err != nil || back != n {
				t.Fatalf("Format(%d) = %q reads back as %d, %v", n, Format(n), back, err)
			}
		}
	})
}
