package x_test

import (
	"github.com/jaraba/pixelgw/platforms/platformtest"
	"github.com/jaraba/pixelgw/test/platformsim"
)

// simAdapter adapts platformsim to platformtest.Sim for one platform.
type simAdapter struct {
	sim      *platformsim.Sim
	platform string
}

func (s simAdapter) Inject(f platformtest.Fault) {
	s.sim.Inject(s.platform, platformsim.Fault{
		Status: f.Status, RetryAfter: f.RetryAfter, Delay: f.Delay, Times: f.Times, Body: f.Body,
		PartialIndexes: f.PartialIndexes, AuthFail: f.AuthFail, Hang: f.Hang, Redirect: f.Redirect,
	})
}

func (s simAdapter) Requests() []platformtest.Request {
	var out []platformtest.Request
	for _, r := range s.sim.Requests(s.platform) {
		out = append(out, platformtest.Request{
			Method: r.Method, Path: r.Path, RawQuery: r.RawQuery, Header: r.Header, Body: r.Body,
			Status: r.Status, Response: r.Response, Accepted: r.Accepted, Errors: r.Errors,
		})
	}
	return out
}
