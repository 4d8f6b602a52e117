package storepg

import (
	"bytes"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jaraba/pixelgw/store"
)

// resealChunk bounds the rows held in memory per FETCH of ResealAll.
const resealChunk = 1000

// resealTarget is one table holding sealed values. selectSQL returns the
// row key (keyColumns values) followed by the sealed key id and ciphertext;
// updateSQL takes the key values followed by the new key id and ciphertext.
type resealTarget struct {
	what      string
	keyCount  int
	selectSQL string
	updateSQL string
	notNull   bool // the ciphertext column is NOT NULL
}

var resealTargets = []resealTarget{
	{
		what:     "pixel credentials",
		keyCount: 1,
		selectSQL: `SELECT id, credentials_key_id, credentials FROM tracking_pixel
			WHERE credentials_key_id <> '' OR length(credentials) > 0 FOR UPDATE`,
		updateSQL: `UPDATE tracking_pixel SET credentials_key_id = $2, credentials = $3 WHERE id = $1`,
	},
	{
		what:     "cookie keys",
		keyCount: 2,
		selectSQL: `SELECT tenant_id, key_id, secret_key_id, secret FROM cookie_key
			WHERE secret_key_id <> '' OR length(secret) > 0 FOR UPDATE`,
		updateSQL: `UPDATE cookie_key SET secret_key_id = $3, secret = $4 WHERE tenant_id = $1 AND key_id = $2`,
		notNull:   true,
	},
	{
		// created_at prunes each update to one partition.
		what:     "audit user data",
		keyCount: 2,
		selectSQL: `SELECT seq, created_at, user_data_key_id, user_data FROM tracking_event
			WHERE user_data_key_id <> '' OR length(user_data) > 0 FOR UPDATE`,
		updateSQL: `UPDATE tracking_event SET user_data_key_id = $3, user_data = $4 WHERE seq = $1 AND created_at = $2`,
	},
}

// ResealAll rewrites every non-zero sealed value (pixel credentials, cookie
// keys, audit user data) in one transaction. Each table is read through a
// cursor declared with FOR UPDATE, resealChunk rows per FETCH, and the
// changed rows of a chunk are updated in one pipelined batch, so memory
// stays bounded on a large audit. Values fn returns unchanged are neither
// rewritten nor counted. Any error rolls everything back.
func (s *Store) ResealAll(ctx context.Context, fn func(store.Sealed) (store.Sealed, error)) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		for _, target := range resealTargets {
			c, err := reseal(ctx, tx, target, fn)
			if err != nil {
				return err
			}
			n += c
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot reseal secrets: %w", err)
	}
	return n, nil
}

func reseal(ctx context.Context, tx pgx.Tx, t resealTarget, fn func(store.Sealed) (store.Sealed, error)) (int, error) {
	if _, err := tx.Exec(ctx, `DECLARE reseal_cursor NO SCROLL CURSOR FOR `+t.selectSQL); err != nil {
		return 0, fmt.Errorf("cannot read %s: %w", t.what, err)
	}
	n := 0
	for {
		// Simple protocol: a cached prepared FETCH would keep the row shape
		// of the first cursor it served.
		rows, err := tx.Query(ctx, fmt.Sprintf(`FETCH %d FROM reseal_cursor`, resealChunk), pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return 0, fmt.Errorf("cannot read %s: %w", t.what, err)
		}
		type row struct {
			key []any
			v   store.Sealed
		}
		got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			vals, err := r.Values()
			if err != nil {
				return row{}, err
			}
			x := row{key: vals[:t.keyCount]}
			if err := r.Scan(append(make([]any, t.keyCount), &x.v.KeyID, &x.v.Ciphertext)...); err != nil {
				return row{}, err
			}
			return x, nil
		})
		if err != nil {
			return 0, fmt.Errorf("cannot read %s: %w", t.what, err)
		}
		var b pgx.Batch
		for _, x := range got {
			nv, err := fn(x.v)
			if err != nil {
				return 0, err
			}
			if !changed(x.v, nv) {
				continue
			}
			ct := nullBytes(nv.Ciphertext)
			if ct == nil && t.notNull {
				ct = []byte{}
			}
			b.Queue(t.updateSQL, append(x.key, nv.KeyID, ct)...)
			n++
		}
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return 0, fmt.Errorf("cannot update %s: %w", t.what, err)
			}
		}
		if len(got) < resealChunk {
			break
		}
	}
	if _, err := tx.Exec(ctx, `CLOSE reseal_cursor`); err != nil {
		return 0, fmt.Errorf("cannot close cursor over %s: %w", t.what, err)
	}
	return n, nil
}

func changed(a, b store.Sealed) bool {
	return a.KeyID != b.KeyID || !bytes.Equal(a.Ciphertext, b.Ciphertext)
}
