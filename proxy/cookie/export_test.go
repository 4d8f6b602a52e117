package cookie

import "encoding/base64"

func b64() *base64.Encoding { return base64.RawURLEncoding }
