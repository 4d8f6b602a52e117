package adapt

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var ErrNotNumber = errors.New("not a number")

// Number reads a numeric prop (a JSON number or a numeric string); ok is
// false when absent. A present value that is not a finite number is an
// error.
func Number(props map[string]any, key string) (float64, bool, error) {
	raw, ok := props[key]
	if !ok || raw == nil {
		return 0, false, nil
	}
	var v float64
	switch x := raw.(type) {
	case float64:
		v = x
	case int:
		v = float64(x)
	case int64:
		v = float64(x)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false, ErrNotNumber
		}
		v = f
	default:
		return 0, false, ErrNotNumber
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, ErrNotNumber
	}
	return v, true, nil
}

// Text reads a string prop (numbers are formatted).
func Text(m map[string]any, key string) string {
	switch x := m[key].(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// Currency reads props.currency, uppercased; "" when absent.
func Currency(props map[string]any) (string, error) {
	c, _ := props["currency"].(string)
	c = strings.ToUpper(strings.TrimSpace(c))
	if c != "" && !currencyRe.MatchString(c) {
		return "", errors.New("props.currency is not an ISO 4217 code")
	}
	return c, nil
}

// Item is one product line, read from Meta-style contents
// ({id, quantity, item_price, title}), GA4-style items ({item_id,
// item_name, price, quantity}) or content_ids.
type Item struct {
	ID       string
	Name     string
	Price    float64
	HasPrice bool
	Quantity int
}

// MaxItems bounds the product lines sent per event.
const MaxItems = 100

func Items(props map[string]any) []Item {
	var out []Item
	add := func(list any, id, name, price string) {
		arr, _ := list.([]any)
		for _, v := range arr {
			if len(out) == MaxItems {
				return
			}
			switch x := v.(type) {
			case string:
				if s := strings.TrimSpace(x); s != "" {
					out = append(out, Item{ID: s})
				}
			case map[string]any:
				it := Item{ID: Text(x, id), Name: Text(x, name)}
				if it.Name == "" {
					it.Name = Text(x, "name")
				}
				if p, ok, err := Number(x, price); err == nil && ok && p >= 0 {
					it.Price, it.HasPrice = p, true
				}
				if q, ok, err := Number(x, "quantity"); err == nil && ok && q >= 1 && q <= 1e6 {
					it.Quantity = int(q)
				}
				if it.ID != "" {
					out = append(out, it)
				}
			}
		}
	}
	switch {
	case props["contents"] != nil:
		add(props["contents"], "id", "title", "item_price")
	case props["items"] != nil:
		add(props["items"], "item_id", "item_name", "price")
	default:
		add(props["content_ids"], "", "", "")
	}
	return out
}
