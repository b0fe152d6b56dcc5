package gcspin

import "testing"

func TestParseGeneration(t *testing.T) {
	cases := []struct {
		in   string
		want int64 // 0: refused
	}{
		{"1700000000000001", 1700000000000001},
		{"1", 1},
		{"9223372036854775807", 9223372036854775807},
		{"9223372036854775808", 0}, // beyond int64
		{"0", 0},
		{"", 0},
		{"-5", 0},
		{"+5", 0},
		{" 5", 0},
		{"5.0", 0},
		{"1e15", 0},
		{"0x10", 0},
		{"١٢٣", 0}, // non-ASCII digits
	}
	for _, c := range cases {
		got, err := ParseGeneration(c.in)
		if got != c.want || (err == nil) != (c.want != 0) {
			t.Errorf("ParseGeneration(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestPinIgnoresOtherDrivers(t *testing.T) {
	handled, err := pin(func(any) bool { return false }, "1")
	if handled || err != nil {
		t.Fatalf("handled %v, err %v for a driver that is not gcsblob", handled, err)
	}
}
