package x_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jaraba/pixelgw/platforms/x"
)

// Twitter's documented example ("Creating a signature", developer.x.com):
// a form-encoded status update, whose body parameters are signed.
func TestOAuth1TwitterExample(t *testing.T) {
	t.Parallel()
	o := x.OAuth1{
		ConsumerKey:    "xvz1evFS4wEEPTGEFPHBog",
		ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		Token:          "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
		TokenSecret:    "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
	}
	params := url.Values{
		"include_entities":       {"true"},
		"status":                 {"Hello Ladies + Gentlemen, a signed OAuth request!"},
		"oauth_consumer_key":     {o.ConsumerKey},
		"oauth_nonce":            {"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"1318622958"},
		"oauth_token":            {o.Token},
		"oauth_version":          {"1.0"},
	}
	base := x.BaseString("post", "https://api.twitter.com/1.1/statuses/update.json", params)
	require.Equal(t, "POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&"+
		"include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26"+
		"oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26"+
		"oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521", base)
	require.Equal(t, "hCtSmYh+iHYCEqBWrE7C7hYmtUk=", x.Signature(base, o.ConsumerSecret, o.TokenSecret))

	// The same through Header: query parameter in the URL, body parameter
	// as extra.
	h, err := o.Header("POST", "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
		url.Values{"status": {"Hello Ladies + Gentlemen, a signed OAuth request!"}}, "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", 1318622958)
	require.NoError(t, err)
	require.Equal(t, `OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", `+
		`oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", `+
		`oauth_version="1.0", oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"`, h)
}

// RFC 5849 §3.4.1.1: the example base string (parameters from the query,
// the form body and the OAuth header; repeated names sorted by value).
func TestOAuth1RFC5849BaseString(t *testing.T) {
	t.Parallel()
	u, err := url.Parse("HTTP://EXAMPLE.COM:80/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
	require.NoError(t, err)
	params := u.Query()
	params.Add("c2", "")
	params.Add("a3", "2 q")
	for k, v := range map[string]string{
		"oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7",
		"oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a",
	} {
		params.Add(k, v)
	}
	require.Equal(t, "http://example.com/request", x.BaseURL(u))
	require.Equal(t, "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26"+
		"c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26"+
		"oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7", x.BaseString("POST", x.BaseURL(u), params))

	f := func(in, want string) {
		t.Helper()
		require.Equal(t, want, x.PercentEncode(in))
	}
	f("Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen")
	f("An encoded string!", "An%20encoded%20string%21")
	f("Dogs, Cats & Mice", "Dogs%2C%20Cats%20%26%20Mice")
	f("☃", "%E2%98%83")
	f("-._~", "-._~")
}
