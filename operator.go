package tokenward

import "context"

// Operator is what the operator at the command line may do: create the first
// administrator, accounts and tokens, and set passwords, with no principal to check. The
// audit trail names it "operator" from "command line". It is a type of its own so that no
// request handler reaches these methods by accident: handlers hold a *Service, whose
// methods all take the Principal they check.
type Operator struct{ s *Service }

// NewOperator returns the operator's methods over s.
func NewOperator(s *Service) *Operator { return &Operator{s: s} }

// Bootstrap creates the first administrator, holding every permission, when the database
// has no account yet. It returns the generated password and true when it created one; the
// caller shows that password once.
func (o *Operator) Bootstrap(ctx context.Context, adminEmail string) (string, bool, error) {
	s := o.s
	email, err := NormalizeEmail(adminEmail)
	if err != nil {
		return "", false, err
	}
	password := NewPassword()
	hash, err := HashPassword(password)
	if err != nil {
		return "", false, err
	}
	by := s.by(operator)
	admin := &Account{Identifier: email, Kind: UserAccount, Active: true,
		Permissions: NewPermissionSet(AllPermissions...), Created: by.At}
	created, err := s.store.CreateFirstAdmin(ctx, admin, hash, by)
	if err != nil || !created {
		return "", false, err
	}
	return password, true, nil
}

// CreateUser creates a user account with the given permissions. An empty password leaves
// the account without one (it cannot sign in until one is set). Errors: EInvalid for a bad
// email or short password, EConflict when the email is taken.
func (o *Operator) CreateUser(ctx context.Context, email string, perms PermissionSet, password string) (Account, error) {
	s := o.s
	email, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, err
	}
	var hash string
	if password != "" {
		if hash, err = HashPassword(password); err != nil {
			return Account{}, err
		}
	}
	by := s.by(operator)
	a := Account{Identifier: email, Kind: UserAccount, Active: true, Permissions: perms, Created: by.At}
	if err := s.store.CreateAccount(ctx, &a, hash, by); err != nil {
		return Account{}, err
	}
	return a, nil
}

// CreateServiceAccount creates an active service account ("sa::" is added when missing) with
// the given permissions. Errors: EInvalid for a bad identifier or when perms hold
// token_management (a service account never generates tokens for itself), EConflict when
// the identifier is taken by any account.
func (o *Operator) CreateServiceAccount(ctx context.Context, identifier string, perms PermissionSet, description string) (Account, error) {
	s := o.s
	id, err := NormalizeServiceAccountID(identifier)
	if err != nil {
		return Account{}, err
	}
	if err := checkServicePermissions(perms); err != nil {
		return Account{}, err
	}
	if err := checkDescription(&description); err != nil {
		return Account{}, err
	}
	by := s.by(operator)
	a := Account{Identifier: id, Kind: ServiceAccount, Active: true, Permissions: perms, Description: description, Created: by.At}
	if err := s.store.CreateAccount(ctx, &a, "", by); err != nil {
		return Account{}, err
	}
	return a, nil
}

// GenerateToken generates a token for any existing account. The cap applies. It returns the
// secret and the new token. Errors: ENotFound for an unknown account, EInvalid for a bad
// name or a full account.
func (o *Operator) GenerateToken(ctx context.Context, account, name string) (Secret, Token, error) {
	s := o.s
	id, err := NormalizeAccountID(account)
	if err != nil {
		return "", Token{}, err
	}
	a, err := s.store.AccountByIdentifier(ctx, id)
	if err != nil {
		return "", Token{}, err
	}
	secret, tokens, err := s.generate(ctx, s.by(operator), a.ID, a.Identifier, name)
	if err != nil {
		return "", Token{}, err
	}
	return secret, tokens[len(tokens)-1], nil
}

// SetPassword sets a user account's password and ends its sessions. Errors: ENotFound,
// EInvalid for a short password.
func (o *Operator) SetPassword(ctx context.Context, email, password string) error {
	s := o.s
	a, err := s.accountOf(ctx, email, UserAccount)
	if err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.store.SetPassword(ctx, a.ID, hash, s.by(operator))
}
