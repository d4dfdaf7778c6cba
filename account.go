package tokenward

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AccountKind tells user accounts (people, identified by email, who may sign in) from
// service accounts (automation, identified by "sa::name", who only hold tokens).
type AccountKind string

const (
	UserAccount    AccountKind = "user"
	ServiceAccount AccountKind = "service"
)

// AccountType is the account type as the Wavefront API reports it; clients validate this
// enum, so these three are the only values ever sent.
type AccountType string

const (
	TypeUser                   AccountType = "USER_ACCOUNT"
	TypeServiceAccount         AccountType = "SERVICE_ACCOUNT"
	TypeInactiveServiceAccount AccountType = "INACTIVE_SERVICE_ACCOUNT"
)

// ServiceAccountPrefix starts every service account identifier.
const ServiceAccountPrefix = "sa::"

// Account is a user account or a service account.
type Account struct {
	ID          int64
	Identifier  string // lower-case email, or "sa::name"
	Kind        AccountKind
	Active      bool // always true for users; service accounts can be deactivated
	Description string
	Permissions PermissionSet // granted directly ("groups" in the API)
	// Effective is what the account may do: its direct permissions, those of its roles
	// and those of its groups' roles (reference §11), never token_management for a service
	// account. Every check and verdict uses it.
	Effective PermissionSet
	Roles     []string // ids of the roles assigned to the account itself, sorted
	Groups    []string // ids of its user groups, sorted; for a user account Everyone's too
	Created   time.Time
	LastLogin time.Time // last successful console sign-in; zero when never
	LastUsed  time.Time // latest use of any of the account's tokens; zero when never
}

// Type returns the account's type in the API's words.
func (a Account) Type() AccountType { return accountType(a.Kind, a.Active) }

func accountType(kind AccountKind, active bool) AccountType {
	switch {
	case kind == UserAccount:
		return TypeUser
	case active:
		return TypeServiceAccount
	default:
		return TypeInactiveServiceAccount
	}
}

// NormalizeEmail returns the canonical (lower-case, trimmed) form of a user account's email
// address, or an EInvalid error when s is not a bare address such as "jane@example.com".
// "admin@localhost" is accepted: the first administrator's default has no dot.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" || len(s) > 254 {
		return "", Errorf(EInvalid, "%q is not a valid email address", truncate(s, 64))
	}
	if spoofs(s) { // mail.ParseAddress takes any Unicode in the local part
		return "", Errorf(EInvalid, "%q is not a valid email address: it holds an invisible or control character", truncate(s, 64))
	}
	return s, nil
}

// NormalizeServiceAccountID returns the canonical identifier of a service account: "sa::"
// followed by the lower-cased name. The prefix may be omitted. The name is 1 to 64 letters,
// digits, '-', '_' or '.'; anything else is an EInvalid error.
func NormalizeServiceAccountID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	name := strings.TrimPrefix(s, ServiceAccountPrefix)
	if name == "" || len(name) > 64 {
		return "", Errorf(EInvalid, "a service account identifier is %s followed by 1 to 64 characters", ServiceAccountPrefix)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return "", Errorf(EInvalid, "service account names may contain only letters, digits, '-', '_' and '.', not %q", string(r))
		}
	}
	return ServiceAccountPrefix + name, nil
}

// NormalizeAccountID returns the canonical form of any account identifier: a service
// account's when s starts with "sa::", an email otherwise.
func NormalizeAccountID(s string) (string, error) {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), ServiceAccountPrefix) {
		return NormalizeServiceAccountID(s)
	}
	return NormalizeEmail(s)
}

// CheckText returns an EInvalid error naming what when s is not valid UTF-8, holds a NUL
// byte or is longer than max bytes: text that no engine stores or matches the same way.
func CheckText(what, s string, max int) error {
	switch {
	case len(s) > max:
		return Errorf(EInvalid, "%s is at most %d bytes", what, max)
	case !utf8.ValidString(s):
		return Errorf(EInvalid, "%s must be valid UTF-8", what)
	case strings.ContainsRune(s, 0):
		return Errorf(EInvalid, "%s must not contain a NUL character", what)
	}
	return nil
}

// spoofs reports whether s holds a control character or an invisible format character
// (bidirectional overrides, zero-width spaces and joiners): characters that make a name
// read differently from what it is.
func spoofs(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0
}

// truncate shortens s to at most n runes for use inside an error message.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// AccountStore is what accounts need from the database.
type AccountStore interface {
	// CreateAccount inserts a with its permissions, roles and groups, setting its ID;
	// EConflict when the identifier is taken. passwordHash may be empty (the account
	// cannot sign in).
	CreateAccount(ctx context.Context, a *Account, passwordHash string, by AuditEvent) error
	// CreateAccountWithToken inserts a without a password, as CreateAccount, and its first
	// token t, as CreateToken, in one transaction: both or neither.
	CreateAccountWithToken(ctx context.Context, a *Account, t *Token, digest Digest, by AuditEvent) error
	// CreateAccounts inserts accounts without passwords, all or none, as CreateAccount.
	CreateAccounts(ctx context.Context, accounts []*Account, by AuditEvent) error
	// CreateFirstAdmin inserts a only when the database holds no account at all, and
	// reports whether it did; safe when several instances start at once.
	CreateFirstAdmin(ctx context.Context, a *Account, passwordHash string, by AuditEvent) (bool, error)
	// HasAccounts reports whether the database holds any account, live or deleted.
	HasAccounts(ctx context.Context) (bool, error)
	// AccountByIdentifier returns the live account with that identifier, or ENotFound.
	AccountByIdentifier(ctx context.Context, identifier string) (Account, error)

	// SearchAccounts returns a page of live accounts of kind ("" for both) matching a
	// request normalized against AccountSearch.
	SearchAccounts(ctx context.Context, kind AccountKind, req SearchRequest) (Page[Account], error)
	// UpdateAccounts applies all changes or none; EInvalid when they would leave no user
	// account holding user_management, ENotFound when an account is gone.
	UpdateAccounts(ctx context.Context, changes []AccountChange, by AuditEvent) error
	// DeleteAccounts marks accounts deleted, revokes their tokens and ends their sessions,
	// all or none, keeping an administrator as UpdateAccounts does.
	DeleteAccounts(ctx context.Context, ids []int64, by AuditEvent) error
	// SetPassword replaces a user account's password hash and ends its sessions.
	SetPassword(ctx context.Context, accountID int64, hash string, by AuditEvent) error
	// PasswordHash returns a live user account and its password hash; ENotFound otherwise.
	PasswordHash(ctx context.Context, email string) (Account, string, error)
}
