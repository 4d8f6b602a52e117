package deps
import (
 _ "github.com/valyala/fasthttp"
 _ "github.com/redis/go-redis/v9"
 _ "github.com/jackc/pgx/v5/pgxpool"
 _ "github.com/golang-jwt/jwt/v5"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/google/uuid"
 _ "modernc.org/sqlite"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/stretchr/testify/require"
 _ "go.uber.org/goleak"
 _ "github.com/andybalholm/brotli"
)
