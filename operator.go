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
	// The usual start finds its administrator: no password to hash (64 MiB of argon2id).
	if any, err := s.store.HasAccounts(ctx); err != nil || any {
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
	return o.GenerateTokenFor(ctx, account, name, Lifetime{}, Restrictions{})
}

// GenerateTokenFor is GenerateToken with the lifetime asked (the zero Lifetime: the
// policy's default) and restrictions. Errors: those of GenerateToken, and EInvalid above
// the policy's maximum or for permissions the account does not hold.
func (o *Operator) GenerateTokenFor(ctx context.Context, account, name string, life Lifetime, r Restrictions) (Secret, Token, error) {
	s := o.s
	id, err := NormalizeAccountID(account)
	if err != nil {
		return "", Token{}, err
	}
	a, err := s.store.AccountByIdentifier(ctx, id)
	if err != nil {
		return "", Token{}, err
	}
	if r, err = r.within(a.Effective, false, "account "+a.Identifier); err != nil {
		return "", Token{}, err
	}
	secret, tokens, err := s.generate(ctx, s.by(operator), a.ID, a.Identifier, a.Kind, name, life, r)
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

// The operator's reach over existing accounts and tokens: what an administrator does
// through the API, for an operator who has shell access and no token (a leaked token must
// be stoppable without the API). Each goes through the same internal path as the API
// (tokenOf, renameToken, revokeToken, the store's account writes under s.written), so the
// rules cannot drift apart; only the permission check is absent.

// Tokens returns an account's live tokens, oldest first. Errors: ENotFound.
func (o *Operator) Tokens(ctx context.Context, account string) ([]Token, error) {
	a, err := o.s.accountOf(ctx, account, "")
	if err != nil {
		return nil, err
	}
	return o.s.store.LiveTokens(ctx, a.ID)
}

// AllTokens returns every live token of the organization, oldest first.
func (o *Operator) AllTokens(ctx context.Context) ([]Token, error) {
	tokens := []Token{}
	err := o.s.store.EachLiveTokenOfOrg(ctx, func(t Token) error {
		tokens = append(tokens, t)
		return nil
	})
	return tokens, err
}

// GenerateTokenAsAPI generates a token under the API's rule: a user account must hold the
// "API Tokens" permission (token_management) to have tokens, as GenerateOwnToken demands
// of its caller; a service account's tokens are an administrator's to make. GenerateToken
// is the same without that rule, for an operator who overrides it. Errors: those of
// GenerateToken, and EForbidden naming the permission.
func (o *Operator) GenerateTokenAsAPI(ctx context.Context, account, name string, life Lifetime, r Restrictions) (Secret, Token, error) {
	a, err := o.s.accountOf(ctx, account, "")
	if err != nil {
		return "", Token{}, err
	}
	if a.Kind == UserAccount {
		if err := require(Principal{Permissions: a.Effective}, TokenManagement, "generating API tokens for "+a.Identifier); err != nil {
			return "", Token{}, err
		}
	}
	return o.GenerateTokenFor(ctx, a.Identifier, name, life, r)
}

// RenameToken renames the live token of any account that ref names (a public id or a
// secret) and returns it. Errors: ENotFound, EInvalid for a bad name.
func (o *Operator) RenameToken(ctx context.Context, ref, name string) (Token, error) {
	return o.s.renameToken(ctx, o.s.by(operator), anyOwner, ref, name)
}

// RevokeToken revokes the live token of any account that ref names (a public id or a
// secret) and returns it as it was, with its revocation time. Revocation is irreversible.
// Errors: ENotFound.
func (o *Operator) RevokeToken(ctx context.Context, ref string) (Token, error) {
	return o.s.revokeToken(ctx, o.s.by(operator), anyOwner, ref)
}

// RotateToken gives the live token of any account that ref names a new secret, keeping
// its record, name and cap slot; the previous secret works for r.Grace more. It returns
// the new secret and the token. Errors: ENotFound, EInvalid.
func (o *Operator) RotateToken(ctx context.Context, ref string, r Rotation) (Secret, Token, error) {
	return o.s.rotateToken(ctx, o.s.by(operator), anyOwner, ref, r)
}

// TokenPolicy returns the organization's token lifetime policy.
func (o *Operator) TokenPolicy(ctx context.Context) (TokenPolicy, error) {
	return o.s.store.TokenPolicy(ctx)
}

// SetTokenPolicy replaces the policy, as Service.SetTokenPolicy does for an administrator.
// Errors: EInvalid.
func (o *Operator) SetTokenPolicy(ctx context.Context, p TokenPolicy, dryRun bool) (PolicyEffect, error) {
	return o.s.SetTokenPolicy(ctx, Principal{Account: operator.Account, Source: operator.Source,
		Permissions: NewPermissionSet(UserManagement)}, p, dryRun)
}

// Accounts returns every live account of kind ("" for both), in identifier order.
func (o *Operator) Accounts(ctx context.Context, kind AccountKind) ([]Account, error) {
	all, err := o.s.allAccounts(ctx, kind)
	if all == nil && err == nil {
		all = []Account{}
	}
	return all, err
}

// allAccounts returns every live account of kind, in identifier order, page by page: the
// one listing behind AllAccounts (which checks its caller first) and Accounts.
func (s *Service) allAccounts(ctx context.Context, kind AccountKind) ([]Account, error) {
	var all []Account
	req := SearchRequest{Limit: MaxSearchLimit}
	if err := req.Normalize(AccountSearch); err != nil {
		return nil, err
	}
	for {
		page, err := s.store.SearchAccounts(ctx, kind, req)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if !page.More() || len(page.Items) == 0 {
			return all, nil
		}
		req.Offset += len(page.Items)
	}
}

// Account returns the live account that identifier names. Errors: ENotFound.
func (o *Operator) Account(ctx context.Context, identifier string) (Account, error) {
	return o.s.accountOf(ctx, identifier, "")
}

// SetActive activates or deactivates a service account, as the API's activate and
// deactivate do: deactivating makes its tokens fail at once, activating restores them.
// User accounts are always active (delete one, or revoke its tokens, to stop it). Errors:
// ENotFound, EInvalid for a user account.
func (o *Operator) SetActive(ctx context.Context, identifier string, active bool) (Account, error) {
	s := o.s
	a, err := s.accountOf(ctx, identifier, "")
	if err != nil {
		return Account{}, err
	}
	if a.Kind != ServiceAccount {
		return Account{}, Errorf(EInvalid, "%s is a user account, and user accounts are always active; delete it or revoke its tokens instead", a.Identifier)
	}
	var restricted []int64
	if !active {
		restricted = []int64{a.ID}
	}
	change := AccountChange{ID: a.ID, Active: &active}
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, []AccountChange{change}, s.by(operator)), restricted...); err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// DeleteAccount deletes an account, revoking all its tokens and ending its sessions, and
// returns it as it was. Errors: ENotFound, EInvalid when no administrator would remain.
func (o *Operator) DeleteAccount(ctx context.Context, identifier string) (Account, error) {
	s := o.s
	a, err := s.accountOf(ctx, identifier, "")
	if err != nil {
		return Account{}, err
	}
	if err := s.written(ctx, s.store.DeleteAccounts(ctx, []int64{a.ID}, s.by(operator)), a.ID); err != nil {
		return Account{}, err
	}
	return a, nil
}
