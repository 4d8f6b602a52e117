package clientip

import "net/netip"

// maxEntryLen bounds one X-Forwarded-For element ("[v6]:port" is at most
// 47 bytes); longer elements are garbage.
const maxEntryLen = 64

// parseEntry parses one X-Forwarded-For element: an IPv4 or IPv6 address,
// optionally "v4:port", "[v6]" or "[v6]:port". Zones are refused. It does
// not allocate.
func parseEntry(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > maxEntryLen {
		return netip.Addr{}, false
	}
	if b[0] == '[' {
		end := -1
		for i := 1; i < len(b); i++ {
			if b[i] == ']' {
				end = i
				break
			}
		}
		if end < 0 {
			return netip.Addr{}, false
		}
		if rest := b[end+1:]; len(rest) > 0 && !validPort(rest) {
			return netip.Addr{}, false
		}
		a, ok := parseIPv6(b[1:end])
		return a, ok
	}
	colons, dots, lastColon := 0, 0, -1
	for i, c := range b {
		switch c {
		case ':':
			colons++
			lastColon = i
		case '.':
			dots++
		}
	}
	switch {
	case colons == 0:
		return parseIPv4(b)
	case colons == 1 && dots > 0: // v4:port
		if !validPort(b[lastColon:]) {
			return netip.Addr{}, false
		}
		return parseIPv4(b[:lastColon])
	default:
		return parseIPv6(b)
	}
}

// validPort: ":" followed by 1-5 digits.
func validPort(b []byte) bool {
	if len(b) < 2 || len(b) > 6 || b[0] != ':' {
		return false
	}
	for _, c := range b[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 parses dotted-quad decimal with no leading zeros, like
// netip.ParseAddr.
func parseIPv4(s []byte) (netip.Addr, bool) {
	var ip [4]byte
	var val, digits, pos int
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if digits == 1 && val == 0 {
				return netip.Addr{}, false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return netip.Addr{}, false
			}
		case c == '.':
			if digits == 0 || pos == 3 {
				return netip.Addr{}, false
			}
			ip[pos] = byte(val)
			pos++
			val, digits = 0, 0
		default:
			return netip.Addr{}, false
		}
	}
	if pos != 3 || digits == 0 {
		return netip.Addr{}, false
	}
	ip[3] = byte(val)
	return netip.AddrFrom4(ip), true
}

// parseIPv6 parses an IPv6 address without zone (netip.ParseAddr's rules:
// at most 4 hex digits per group, one "::", an optional trailing IPv4).
func parseIPv6(s []byte) (netip.Addr, bool) {
	var ip [16]byte
	ellipsis := -1
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis = 0
		s = s[2:]
		if len(s) == 0 {
			return netip.IPv6Unspecified(), true
		}
	}
	i := 0
	for i < 16 {
		off := 0
		acc := uint32(0)
		for ; off < len(s); off++ {
			c := s[off]
			switch {
			case c >= '0' && c <= '9':
				acc = acc<<4 + uint32(c-'0')
			case c >= 'a' && c <= 'f':
				acc = acc<<4 + uint32(c-'a'+10)
			case c >= 'A' && c <= 'F':
				acc = acc<<4 + uint32(c-'A'+10)
			default:
				goto done
			}
			if off > 3 {
				return netip.Addr{}, false
			}
		}
	done:
		if off == 0 {
			return netip.Addr{}, false
		}
		if off < len(s) && s[off] == '.' {
			if ellipsis < 0 && i != 12 {
				return netip.Addr{}, false
			}
			if i+4 > 16 {
				return netip.Addr{}, false
			}
			v4, ok := parseIPv4(s)
			if !ok {
				return netip.Addr{}, false
			}
			b := v4.As4()
			copy(ip[i:], b[:])
			i += 4
			s = s[len(s):]
			break
		}
		ip[i] = byte(acc >> 8)
		ip[i+1] = byte(acc)
		i += 2
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return netip.Addr{}, false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return netip.Addr{}, false
			}
			ellipsis = i
			s = s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return netip.Addr{}, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return netip.Addr{}, false
		}
		n := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			ip[j+n] = ip[j]
		}
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(ip), true
}
