package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// LockReconcile is the name of the lock every reconciliation takes: one run
// at a time writes discrepancies, across every process sharing the database.
const LockReconcile = "reconcile"

// Lock defaults.
const (
	// DefaultLockLease is how long an SQLite lock row stays valid without
	// renewal; the holder renews it every third of that. On PostgreSQL it is
	// how often the holder checks that the connection holding the lock is
	// alive.
	DefaultLockLease = 60 * time.Second
	// lockReleaseTimeout bounds the release, which runs on a fresh context:
	// the caller's may be what ended the work.
	lockReleaseTimeout = 10 * time.Second
)

// LockOptions tune TryLock; zero fields take the defaults.
type LockOptions struct {
	// Owner names the holder, on SQLite in the lock row (default
	// host:pid:random).
	Owner string
	// Lease: see DefaultLockLease.
	Lease time.Duration
}

// Lock is a held lock. Release it once, when the work is done.
type Lock struct {
	name  string
	owner string
	// token is the lock row's generation this holder got: its fence.
	token int64
	lost  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	// unlock gives the lock back; it runs once, after the keeper stopped.
	unlock   func(ctx context.Context) error
	once     sync.Once
	lostOnce sync.Once
}

// Name is the lock's name.
func (l *Lock) Name() string { return l.name }

// Owner is the holder's name.
func (l *Lock) Owner() string { return l.owner }

// Fence is the proof of holding the lock that FinishRun checks: the lock
// row's generation this holder got when it took the lock. A later holder
// bumps it, so a holder that lost the lock (its session died, its lease was
// taken over) can no longer record a run, even before it notices.
func (l *Lock) Fence() reconcile.Fence { return reconcile.Fence{Lock: l.name, Token: l.token} }

// Lost is closed when the lock can no longer be trusted: on PostgreSQL the
// connection holding it stopped answering (the server frees a dead
// session's locks), on SQLite the lease could not be renewed. The holder
// should stop its work.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

func (l *Lock) markLost() { l.lostOnce.Do(func() { close(l.lost) }) }

// Release gives the lock back. It uses a fresh context derived from ctx
// without its cancellation, so that a run ended by a cancelled context
// still releases its lock at once rather than when the connection dies. It
// is safe to call more than once: later calls do nothing and return nil.
func (l *Lock) Release(ctx context.Context) error {
	var err error
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseTimeout)
		defer cancel()
		if uerr := l.unlock(rctx); uerr != nil {
			err = fmt.Errorf("release lock %s: %w", l.name, uerr)
		}
	})
	return err
}

// keep runs check every interval until Release. A check that reports the
// lock lost marks it so and stops; one that merely failed (a busy
// connection, a timeout) is tried again at the next tick.
func (l *Lock) keep(interval time.Duration, check func(ctx context.Context) (lost bool)) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), max(interval, time.Second))
			lost := check(ctx)
			cancel()
			if lost {
				l.markLost()
				return
			}
		}
	}
}

// TryLock takes the lock name without waiting. When another holder has it,
// the error wraps reconcile.ErrLocked.
//
// On PostgreSQL it is a session advisory lock (pg_try_advisory_lock) held on
// one connection taken out of the pool and pinned for the lock's lifetime;
// the key is derived from the current schema and name, so processes sharing
// a schema exclude each other and tests in schemas of their own do not.
// Release unlocks on that same connection; if that fails, the connection is
// closed rather than returned to the pool, since closing the session frees
// the lock.
//
// On SQLite, where the one pooled connection cannot be pinned, it is a row
// of the locks table with an owner and an expiry, renewed while held: a
// holder that crashed loses the lock when its lease runs out.
func (db *DB) TryLock(ctx context.Context, name string, opts LockOptions) (*Lock, error) {
	if name == "" {
		return nil, errors.New("try lock: empty name")
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLockLease
	}
	l := &Lock{name: name, owner: opts.Owner, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	switch db.dialect {
	case DialectPostgres:
		err = db.tryLockPostgres(ctx, l, opts)
	default:
		err = db.tryLockSQLite(ctx, l, opts)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

func defaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// advisoryKey is the advisory lock key of name in schema.
func advisoryKey(schema, name string) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "refundrecon\x00lock\x00%s\x00%s", schema, name)
	return int64(h.Sum64())
}

// discardConn closes a pinned connection without returning it to the pool:
// a session that may still hold an advisory lock must end.
func discardConn(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

func (db *DB) tryLockPostgres(ctx context.Context, l *Lock, opts LockOptions) error {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("try lock %s: pin a connection: %w", l.name, err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(current_schema(), '')").Scan(&schema); err != nil {
		_ = conn.Close()
		return fmt.Errorf("try lock %s: read current schema: %w", l.name, err)
	}
	key := advisoryKey(schema, l.name)
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
		// The server may have granted it before the error: end the session.
		discardConn(conn)
		return fmt.Errorf("try lock %s: %w", l.name, err)
	}
	if !got {
		_ = conn.Close()
		return fmt.Errorf("%w: lock %s is held by another process", reconcile.ErrLocked, l.name)
	}
	// The fence: a new generation of the lock's row. An older holder whose
	// session died may still be working; its FinishRun now fails.
	now := db.now()
	err = conn.QueryRowContext(ctx, `INSERT INTO locks (name, owner, acquired_at, expires_at, generation)
VALUES ($1, $2, $3, $4, 1)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at,
	expires_at = excluded.expires_at, generation = locks.generation + 1
RETURNING generation`, l.name, l.owner, db.timeArg(now), db.timeArg(now.Add(opts.Lease))).Scan(&l.token)
	if err != nil {
		discardConn(conn)
		return fmt.Errorf("try lock %s: take the fence: %w", l.name, err)
	}
	l.unlock = func(ctx context.Context) error {
		var released bool
		err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", key).Scan(&released)
		if err != nil || !released {
			discardConn(conn)
			if err == nil {
				err = errors.New("the session no longer held it")
			}
			return err
		}
		return conn.Close()
	}
	// A session that stops answering may be gone, and its lock with it.
	go l.keep(opts.Lease, func(ctx context.Context) bool { return conn.PingContext(ctx) != nil })
	return nil
}

func (db *DB) tryLockSQLite(ctx context.Context, l *Lock, opts LockOptions) error {
	now := db.now()
	b := newBinder(db.dialect)
	// Every taking bumps the generation (the fence); a released row is
	// kept, expired, so that generations only grow.
	q := `INSERT INTO locks (name, owner, acquired_at, expires_at, generation) VALUES (` +
		b.add(l.name) + `, ` + b.add(l.owner) + `, ` + b.add(db.timeArg(now)) + `, ` + b.add(db.timeArg(now.Add(opts.Lease))) + `, 1)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at,
	generation = locks.generation + 1
WHERE locks.expires_at < ` + b.add(db.timeArg(now)) + `
RETURNING generation`
	err := db.db.QueryRowContext(ctx, q, b.args...).Scan(&l.token)
	if errors.Is(err, sql.ErrNoRows) {
		var holder string
		_ = db.db.GetContext(ctx, &holder, `SELECT owner FROM locks WHERE name = ?`, l.name)
		return fmt.Errorf("%w: lock %s is held by %s", reconcile.ErrLocked, l.name, holder)
	}
	if err != nil {
		return fmt.Errorf("try lock %s: %w", l.name, err)
	}
	l.unlock = func(ctx context.Context) error {
		_, err := db.db.ExecContext(ctx, `UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND generation = ?`,
			db.timeArg(time.Unix(0, 0)), l.name, l.owner, l.token)
		return err
	}
	// The one pooled connection may be busy (a long ledger read): a renewal
	// that fails is tried again; only a row no longer ours means lost.
	go l.keep(opts.Lease/3, func(ctx context.Context) bool {
		res, err := db.db.ExecContext(ctx, `UPDATE locks SET expires_at = ? WHERE name = ? AND owner = ? AND generation = ?`,
			db.timeArg(db.now().Add(opts.Lease)), l.name, l.owner, l.token)
		if err != nil {
			return false
		}
		n, err := res.RowsAffected()
		return err == nil && n == 0
	})
	return nil
}

// checkFence fails with an error wrapping reconcile.ErrFenced unless the
// lock row still carries fence's generation. It writes the row (to the same
// values) rather than reading it: the write takes the row's lock on
// PostgreSQL and the database's write lock on SQLite, so a holder taking
// the lock over waits for tx to end, and tx commits only what was decided
// under the fence. A zero fence checks nothing.
func (db *DB) checkFence(ctx context.Context, tx execer, fence reconcile.Fence) error {
	if fence.Lock == "" {
		return nil
	}
	b := newBinder(db.dialect)
	q := `UPDATE locks SET generation = generation WHERE name = ` + b.add(fence.Lock) + ` AND generation = ` + b.add(fence.Token)
	res, err := tx.ExecContext(ctx, q, b.args...)
	if err != nil {
		return fmt.Errorf("check the lock %s: %w", fence.Lock, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("check the lock %s: %w", fence.Lock, err)
	} else if n == 0 {
		return fmt.Errorf("%w: lock %s was taken over (generation %d is no longer current)", reconcile.ErrFenced, fence.Lock, fence.Token)
	}
	return nil
}

// execer is what checkFence needs of a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// AbortRunning records every run still marked running as failed with
// reason. Call it only while holding LockReconcile: every run takes that
// lock, so a run still running then is an orphan of a process that crashed,
// was killed or panicked before it could record the outcome. It returns how
// many runs it aborted.
func (db *DB) AbortRunning(ctx context.Context, reason string) (int64, error) {
	b := newBinder(db.dialect)
	q := `UPDATE runs SET status = ` + b.add(string(reconcile.RunFailed)) + `, finished_at = ` + b.add(db.timeArg(db.now())) +
		`, error = ` + b.add(reason) + ` WHERE status = ` + b.add(string(reconcile.RunRunning))
	res, err := db.db.ExecContext(ctx, q, b.args...)
	if err != nil {
		return 0, fmt.Errorf("abort orphaned runs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("abort orphaned runs: %w", err)
	}
	return n, nil
}

// HasWindowRun reports whether a run of every customer whose window ends
// exactly at until has been recorded, whatever its outcome. The schedule
// names each nightly run by its slot this way, so that of several processes
// firing for one slot exactly one runs it: the others find it under the
// lock and skip.
func (db *DB) HasWindowRun(ctx context.Context, until time.Time) (bool, error) {
	var n int
	err := db.db.GetContext(ctx, &n, db.db.Rebind(`SELECT COUNT(*) FROM runs WHERE customer_id IS NULL AND until = ?`), db.timeArg(until))
	if err != nil {
		return false, fmt.Errorf("look up the run ending at %s: %w", until.UTC().Format(time.RFC3339), err)
	}
	return n > 0, nil
}
