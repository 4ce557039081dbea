package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"sync"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The cookies of the page. The session cookie holds a random session id
// only; the session itself (name, role, expiry, form token) lives on the
// server, so signing out ends it for good: a copy of the cookie taken before
// is refused after. The login cookie holds the login form's CSRF token
// (double submit: the form must send back what the cookie holds).
const (
	sessionCookie = "refundrecon_session"
	loginCookie   = "refundrecon_login"
)

// sessionTTL is how long a login lasts; maxSessions bounds the sessions
// held (beyond it the one closest to expiry is ended).
const (
	sessionTTL  = 12 * time.Hour
	maxSessions = 10000
)

// Session is a signed-in reviewer: the token's name (recorded in the audit
// trail) and role (what the page lets them do).
type Session struct {
	Name string
	Role reconcile.Role
	// CSRF is the form token of the session, sent back by every form.
	CSRF    string
	expires time.Time
}

// validCSRF compares a form's token with the session's in constant time.
func (s Session) validCSRF(v string) bool {
	return v != "" && subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(v)) == 1
}

// sessions are held in memory, keyed by the SHA-256 of their id: a restart
// signs everyone out, and a replica knows only the sessions it started
// (several replicas behind one address need sticky sessions).
type sessions struct {
	mu   sync.Mutex
	byID map[[sha256.Size]byte]Session
}

func newSessions() *sessions { return &sessions{byID: map[[sha256.Size]byte]Session{}} }

// randomToken is 256 random bits as text.
func randomToken() string { return rand.Text() + rand.Text() }

// start opens a session for t and returns its id (the cookie's value).
func (ss *sessions) start(t reconcile.Token, now time.Time) (string, Session) {
	id := randomToken()
	s := Session{Name: t.Name, Role: t.Role, CSRF: randomToken(), expires: now.Add(sessionTTL)}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byID) >= maxSessions {
		var soonest [sha256.Size]byte
		first := true
		for k, v := range ss.byID {
			if !now.Before(v.expires) {
				delete(ss.byID, k)
				continue
			}
			if first || v.expires.Before(ss.byID[soonest].expires) {
				soonest, first = k, false
			}
		}
		if len(ss.byID) >= maxSessions && !first {
			delete(ss.byID, soonest)
		}
	}
	ss.byID[sha256.Sum256([]byte(id))] = s
	return id, s
}

func (ss *sessions) get(id string, now time.Time) (Session, bool) {
	key := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[key]
	if !ok {
		return Session{}, false
	}
	if !now.Before(s.expires) {
		delete(ss.byID, key)
		return Session{}, false
	}
	return s, true
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, sha256.Sum256([]byte(id)))
}

// secure reports whether the cookie must be Secure: configured so, or the
// request came over TLS, directly or through a proxy that says so.
func (h *Handler) secure(r *http.Request) bool {
	return h.cfg.SecureCookies || r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (h *Handler) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure(r)}
}

func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, t reconcile.Token) {
	id, _ := h.sessions.start(t, h.now())
	http.SetCookie(w, h.cookie(r, sessionCookie, id, int(sessionTTL.Seconds())))
}

// endSession ends the request's session on the server and clears the cookie.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.sessions.end(c.Value)
	}
	http.SetCookie(w, h.cookie(r, sessionCookie, "", -1))
}

// session returns the request's valid session.
func (h *Handler) session(r *http.Request) (Session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return Session{}, false
	}
	return h.sessions.get(c.Value, h.now())
}

// loginCSRF returns the login form's token, setting the cookie that holds it.
func (h *Handler) loginCSRF(w http.ResponseWriter, r *http.Request) string {
	v := randomToken()
	http.SetCookie(w, h.cookie(r, loginCookie, v, int(time.Hour.Seconds())))
	return v
}

// validLoginCSRF: the login form sent back what its cookie holds.
func validLoginCSRF(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	v := r.PostFormValue("csrf")
	return err == nil && c.Value != "" && v != "" && subtle.ConstantTimeCompare([]byte(c.Value), []byte(v)) == 1
}
