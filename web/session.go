package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Token is one accepted token and the name the audit trail records.
type Token struct {
	Name, Value string
}

// sessionCookie holds "name|expiry|mac", the mac keyed by the token itself:
// every replica with the same API_TOKENS accepts it, and removing a token
// ends its sessions. The token is never in the cookie.
const sessionCookie = "refundrecon_session"

// sessionTTL is how long a login lasts.
const sessionTTL = 12 * time.Hour

type session struct {
	name    string
	expires time.Time
	key     []byte // the token's value, for the CSRF token
}

func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "|")))
	return hex.EncodeToString(m.Sum(nil))
}

// login returns the name of the token value, comparing in constant time
// against every token (no early exit that would tell which one is close).
func (h *Handler) login(value string) (Token, bool) {
	sum := sha256.Sum256([]byte(value))
	var found Token
	ok := 0
	for _, t := range h.cfg.Tokens {
		ts := sha256.Sum256([]byte(t.Value))
		if subtle.ConstantTimeCompare(sum[:], ts[:]) == 1 {
			found = t
			ok = 1
		}
	}
	return found, ok == 1 && value != ""
}

// secure reports whether the cookie must be Secure: configured so, or the
// request came over TLS, directly or through a proxy that says so.
func (h *Handler) secure(r *http.Request) bool {
	return h.cfg.SecureCookies || r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, t Token) {
	exp := h.now().Add(sessionTTL)
	e := strconv.FormatInt(exp.Unix(), 10)
	v := base64.RawURLEncoding.EncodeToString([]byte(t.Name)) + "|" + e + "|" + mac([]byte(t.Value), "session", t.Name, e)
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: v, Path: "/", Expires: exp, MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure(r),
	})
}

func (h *Handler) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure(r)})
}

// session returns the request's valid session.
func (h *Handler) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	parts := strings.Split(c.Value, "|")
	if len(parts) != 3 {
		return session{}, false
	}
	nameBytes, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return session{}, false
	}
	name := string(nameBytes)
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !h.now().Before(time.Unix(unix, 0)) {
		return session{}, false
	}
	for _, t := range h.cfg.Tokens {
		if t.Name != name {
			continue
		}
		want := mac([]byte(t.Value), "session", name, parts[1])
		if hmac.Equal([]byte(want), []byte(parts[2])) {
			return session{name: name, expires: time.Unix(unix, 0), key: []byte(t.Value)}, true
		}
	}
	return session{}, false
}

// csrf is the form token of a session: tied to the session's expiry, so it
// changes at every login, and useless without the HttpOnly cookie.
func (s session) csrf() string {
	return mac(s.key, "csrf", s.name, strconv.FormatInt(s.expires.Unix(), 10))
}

func (s session) validCSRF(v string) bool {
	return hmac.Equal([]byte(s.csrf()), []byte(v))
}
