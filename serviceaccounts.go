package tokenward

import "context"

// ServiceAccountWrite is a create or update of a service account. Nil fields are absent
// from the request: on update they stay as they are; on create they take their defaults
// (active, no description, no permissions).
type ServiceAccountWrite struct {
	Identifier  string
	Active      *bool
	Description *string
	Permissions *PermissionSet
	Roles       *[]string // role ids; replaces the account's own roles
	Groups      *[]string // user group ids; replaces its memberships
}

// MaxDescriptionLength is the longest account description accepted, in bytes.
const MaxDescriptionLength = 1024

func (w ServiceAccountWrite) check() error {
	if err := checkDescription(w.Description); err != nil {
		return err
	}
	if w.Permissions != nil {
		return checkServicePermissions(*w.Permissions)
	}
	return nil
}

// CreateServiceAccount creates a service account for an administrator. Errors:
// EForbidden, EInvalid (bad identifier, token_management, long description), EConflict.
func (s *Service) CreateServiceAccount(ctx context.Context, p Principal, w ServiceAccountWrite) (Account, error) {
	a, err := s.newServiceAccount(ctx, p, w)
	if err != nil {
		return Account{}, err
	}
	by := s.by(p)
	a.Created = by.At
	if err := s.store.CreateAccount(ctx, &a, "", by); err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// CreateServiceAccountWithToken creates a service account and generates its first token,
// named tokenName, in one transaction: both or neither, so that a bad token name or a
// failure in between leaves no account without the token its creator asked for. It
// returns the account, the token's secret (to be shown once) and the token. Errors: those
// of CreateServiceAccount, and EInvalid for a bad token name.
func (s *Service) CreateServiceAccountWithToken(ctx context.Context, p Principal, w ServiceAccountWrite, tokenName string, life Lifetime) (Account, Secret, Token, error) {
	a, err := s.newServiceAccount(ctx, p, w)
	if err != nil {
		return Account{}, "", Token{}, err
	}
	by := s.by(p)
	a.Created = by.At
	t, secret, err := s.newToken(ctx, by, a.Identifier, ServiceAccount, tokenName, life, Restrictions{})
	if err != nil {
		return Account{}, "", Token{}, err
	}
	if err := s.written(ctx, s.store.CreateAccountWithToken(ctx, &a, &t, secret.Digest(), by)); err != nil {
		return Account{}, "", Token{}, err
	}
	if a, err = s.reread(ctx, a); err != nil {
		return Account{}, "", Token{}, err
	}
	t, err = s.store.LiveTokenByID(ctx, t.ID) // as stored, with the account's type filled in
	return a, secret, t, err
}

// newServiceAccount checks an administrator's create of a service account and returns the
// account to insert, with its roles and groups.
func (s *Service) newServiceAccount(ctx context.Context, p Principal, w ServiceAccountWrite) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	if err := w.check(); err != nil {
		return Account{}, err
	}
	id, err := NormalizeServiceAccountID(w.Identifier)
	if err != nil {
		return Account{}, err
	}
	a := Account{Identifier: id, Kind: ServiceAccount, Active: true}
	if w.Active != nil {
		a.Active = *w.Active
	}
	if w.Description != nil {
		a.Description = *w.Description
	}
	if w.Permissions != nil {
		a.Permissions = *w.Permissions
	}
	if a.Roles, a.Groups, err = s.assignments(ctx, w); err != nil {
		return Account{}, err
	}
	return a, nil
}

// assignments resolves the roles and groups a write names (nil when it names none); the
// write that carries them sets them in its own transaction. Errors: ENotFound, EInvalid
// for one named twice.
func (s *Service) assignments(ctx context.Context, w ServiceAccountWrite) (roles, groups []string, err error) {
	if w.Roles != nil {
		if roles, err = s.roleIDs(ctx, *w.Roles); err != nil {
			return nil, nil, err
		}
	}
	if w.Groups != nil {
		if groups, err = s.groupIDs(ctx, *w.Groups); err != nil {
			return nil, nil, err
		}
	}
	return roles, groups, nil
}

// UpdateServiceAccount changes the fields the write carries. A write whose identifier
// names another account is EInvalid (service accounts cannot be renamed). Deactivating
// makes every token of the account fail at once; activating restores them. Errors:
// EForbidden, ENotFound, EInvalid.
func (s *Service) UpdateServiceAccount(ctx context.Context, p Principal, identifier string, w ServiceAccountWrite) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return Account{}, err
	}
	if w.Identifier != "" {
		if id, err := NormalizeServiceAccountID(w.Identifier); err != nil || id != a.Identifier {
			return Account{}, Errorf(EInvalid, "identifier %q in the body does not match %s in the path; service accounts cannot be renamed", truncate(w.Identifier, 64), a.Identifier)
		}
	}
	if err := w.check(); err != nil {
		return Account{}, err
	}
	change := AccountChange{ID: a.ID, Active: w.Active, Description: w.Description, Permissions: w.Permissions}
	roles, groups, err := s.assignments(ctx, w)
	if err != nil {
		return Account{}, err
	}
	if w.Roles != nil {
		change.Roles = &roles
	}
	if w.Groups != nil {
		change.Groups = &groups
	}
	// Activating alone grants access back: nothing to suspend if it cannot be read back.
	var restricted []int64
	if w.Permissions != nil || w.Roles != nil || w.Groups != nil || (w.Active != nil && !*w.Active) {
		restricted = []int64{a.ID}
	}
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, []AccountChange{change}, s.by(p)), restricted...); err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// SetServiceAccountActive activates or deactivates a service account.
func (s *Service) SetServiceAccountActive(ctx context.Context, p Principal, identifier string, active bool) (Account, error) {
	return s.UpdateServiceAccount(ctx, p, identifier, ServiceAccountWrite{Active: &active})
}

// TokensOf returns the live tokens of each account, for listings that show them. An
// account may see its own; anything else needs the Accounts permission.
func (s *Service) TokensOf(ctx context.Context, p Principal, accounts []Account) (map[int64][]Token, error) {
	if len(accounts) != 1 || accounts[0].ID != p.AccountID {
		if err := RequireAccounts(p); err != nil {
			return nil, err
		}
	}
	ids := make([]int64, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	return s.store.LiveTokensOfAccounts(ctx, ids)
}

// ServiceAccountTokens returns a service account's live tokens. Errors: EForbidden, ENotFound.
func (s *Service) ServiceAccountTokens(ctx context.Context, p Principal, identifier string) ([]Token, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return nil, err
	}
	return s.store.LiveTokens(ctx, a.ID)
}

// GenerateServiceAccountToken generates a token for a service account, with the same cap
// and secret-once rule as own tokens; its permissions lie within the account's (an
// administrator may grant the account more first). Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) GenerateServiceAccountToken(ctx context.Context, p Principal, identifier, name string, life Lifetime, r Restrictions) (Secret, []Token, error) {
	if err := RequireAccounts(p); err != nil {
		return "", nil, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return "", nil, err
	}
	if r, err = r.within(a.Effective, false, "service account "+a.Identifier); err != nil {
		return "", nil, err
	}
	return s.generate(ctx, s.by(p), a.ID, a.Identifier, ServiceAccount, name, life, r)
}

// RenameServiceAccountToken renames a live token of a service account, named by public id
// or secret. Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) RenameServiceAccountToken(ctx context.Context, p Principal, identifier, ref, name string) (Token, error) {
	if err := RequireAccounts(p); err != nil {
		return Token{}, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return Token{}, err
	}
	return s.renameToken(ctx, s.by(p), a.ID, ref, name)
}

// RevokeServiceAccountToken revokes a live token of a service account and returns the
// account's remaining tokens. Errors: EForbidden, ENotFound.
func (s *Service) RevokeServiceAccountToken(ctx context.Context, p Principal, identifier, ref string) ([]Token, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return nil, err
	}
	if _, err := s.revokeToken(ctx, s.by(p), a.ID, ref); err != nil {
		return nil, err
	}
	return s.store.LiveTokens(ctx, a.ID)
}

// RotateServiceAccountToken rotates a live token of a service account, as RotateOwnToken
// does, and returns the new secret and the account's live tokens with it last. Errors:
// EForbidden, ENotFound, EInvalid.
func (s *Service) RotateServiceAccountToken(ctx context.Context, p Principal, identifier, ref string, r Rotation) (Secret, []Token, error) {
	if err := RequireAccounts(p); err != nil {
		return "", nil, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return "", nil, err
	}
	secret, t, err := s.rotateToken(ctx, s.by(p), a.ID, ref, r)
	if err != nil {
		return "", nil, err
	}
	return s.withLast(ctx, a.ID, t, secret)
}
