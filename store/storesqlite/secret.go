package storesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jaraba/pixelgw/store"
)

// resealPage bounds how many sealed values are held in memory at once.
const resealPage = 1000

// sealedColumn is one place sealed values live; selectPage returns
// (row key, key id, ciphertext) of non-zero values after a row key.
type sealedColumn struct {
	name       string
	selectPage string
	update     string
}

func sealedColumns() []sealedColumn {
	return []sealedColumn{
		{
			name: "pixel credentials",
			selectPage: `SELECT id, credentials_key_id, credentials FROM tracking_pixel
			WHERE id > ? AND (credentials_key_id <> '' OR length(credentials) > 0) ORDER BY id LIMIT ?`,
			update: `UPDATE tracking_pixel SET credentials_key_id = ?, credentials = ? WHERE id = ?`,
		},
		{
			name: "cookie keys",
			selectPage: `SELECT rowid, secret_key_id, secret FROM cookie_key
			WHERE rowid > ? AND (secret_key_id <> '' OR length(secret) > 0) ORDER BY rowid LIMIT ?`,
			update: `UPDATE cookie_key SET secret_key_id = ?, secret = ? WHERE rowid = ?`,
		},
		{
			name: "event user data",
			selectPage: `SELECT seq, user_data_key_id, user_data FROM tracking_event
			WHERE seq > ? AND (user_data_key_id <> '' OR length(user_data) > 0) ORDER BY seq LIMIT ?`,
			update: `UPDATE tracking_event SET user_data_key_id = ?, user_data = ? WHERE seq = ?`,
		},
	}
}

type sealedRow struct {
	key int64
	val store.Sealed
}

// ResealAll rewrites every non-zero sealed value with fn's result in one
// transaction; if fn or a write fails nothing changes.
func (s *Store) ResealAll(ctx context.Context, fn func(store.Sealed) (store.Sealed, error)) (int, error) {
	total := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, col := range sealedColumns() {
			n, err := resealColumn(ctx, tx, col, fn)
			total += n
			if err != nil {
				return fmt.Errorf("%s: %w", col.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot reseal secrets: %w", err)
	}
	return total, nil
}

func resealColumn(ctx context.Context, tx *sql.Tx, col sealedColumn, fn func(store.Sealed) (store.Sealed, error)) (int, error) {
	upd, err := tx.PrepareContext(ctx, col.update)
	if err != nil {
		return 0, err
	}
	defer upd.Close()
	n := 0
	var last int64
	for {
		page, err := readSealedPage(ctx, tx, col.selectPage, last)
		if err != nil {
			return n, err
		}
		for _, r := range page {
			v, err := fn(r.val)
			if err != nil {
				return n, err
			}
			keyID, ct := sealedArgs(v)
			if _, err := upd.ExecContext(ctx, keyID, ct, r.key); err != nil {
				return n, err
			}
			n++
			last = r.key
		}
		if len(page) < resealPage {
			return n, nil
		}
	}
}

func readSealedPage(ctx context.Context, tx *sql.Tx, q string, after int64) ([]sealedRow, error) {
	rows, err := tx.QueryContext(ctx, q, after, resealPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sealedRow
	for rows.Next() {
		var (
			r     sealedRow
			keyID string
			ct    []byte
		)
		if err := rows.Scan(&r.key, &keyID, &ct); err != nil {
			return nil, err
		}
		r.val = sealedFrom(keyID, ct)
		out = append(out, r)
	}
	return out, rows.Err()
}
