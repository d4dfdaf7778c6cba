package tokenward

import (
	"context"
	"slices"
)

// RequireAccounts is the check every account-management operation starts with: EForbidden
// unless p holds user_management. Handlers call it before validating a request body, so
// that a caller without the permission learns nothing from validation messages.
func RequireAccounts(p Principal) error { return require(p, UserManagement, "managing accounts") }

// accountOf returns the live account that identifier names, of the given kind ("" for
// either). ENotFound names the account the way the API's clients expect.
func (s *Service) accountOf(ctx context.Context, identifier string, kind AccountKind) (Account, error) {
	var id string
	var err error
	switch kind {
	case ServiceAccount:
		id, err = NormalizeServiceAccountID(identifier)
	case UserAccount:
		id, err = NormalizeEmail(identifier)
	default:
		id, err = NormalizeAccountID(identifier)
	}
	noun := map[AccountKind]string{ServiceAccount: "service account", UserAccount: "user", "": "account"}[kind]
	if err != nil {
		return Account{}, Errorf(ENotFound, "%s %s does not exist", noun, truncate(identifier, 64))
	}
	a, err := s.store.AccountByIdentifier(ctx, id)
	if err == nil && kind != "" && a.Kind != kind {
		err = Errorf(ENotFound, "")
	}
	if ErrorCode(err) == ENotFound {
		return Account{}, Errorf(ENotFound, "%s %s does not exist", noun, id)
	}
	return a, err
}

// reread returns an account as stored after a change.
func (s *Service) reread(ctx context.Context, a Account) (Account, error) {
	return s.store.AccountByIdentifier(ctx, a.Identifier)
}

// checkServicePermissions rejects permissions a service account may never hold.
func checkServicePermissions(perms PermissionSet) error {
	if perms.Has(TokenManagement) {
		return Errorf(EInvalid, "a service account cannot hold the %s permission: it never generates tokens for itself", TokenManagement)
	}
	return nil
}

// CreateUserAs creates a user account for an administrator. It has no password until the
// operator sets one (tokenward user set-password). Errors: EForbidden, EInvalid, EConflict.
func (s *Service) CreateUserAs(ctx context.Context, p Principal, email string, perms PermissionSet) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	a, err := s.CreateUser(ctx, email, perms, "")
	if err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// AccountFor returns an account by identifier. Administrators may read any account; anyone
// may read their own. Errors: EForbidden, ENotFound.
func (s *Service) AccountFor(ctx context.Context, p Principal, identifier string, kind AccountKind) (Account, error) {
	a, err := s.accountOf(ctx, identifier, kind)
	if err == nil && a.ID == p.AccountID {
		return a, nil
	}
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	return a, err
}

// SearchAccounts returns a page of accounts of kind ("" for both). Errors: EForbidden,
// EInvalid for a bad request.
func (s *Service) SearchAccounts(ctx context.Context, p Principal, kind AccountKind, req SearchRequest) (Page[Account], error) {
	if err := RequireAccounts(p); err != nil {
		return Page[Account]{}, err
	}
	if err := req.Normalize(AccountSearch); err != nil {
		return Page[Account]{}, err
	}
	return s.store.SearchAccounts(ctx, kind, req)
}

// AllAccounts returns every account of kind, in identifier order, for the plain-list
// endpoints. Errors: EForbidden.
func (s *Service) AllAccounts(ctx context.Context, p Principal, kind AccountKind) ([]Account, error) {
	var all []Account
	req := SearchRequest{Limit: MaxSearchLimit}
	for {
		page, err := s.SearchAccounts(ctx, p, kind, req)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if !page.More() || len(page.Items) == 0 {
			return all, nil
		}
		req.Offset += len(page.Items)
		req.Sort = nil
	}
}

// Administrators returns the identifiers of the user accounts holding user_management.
func (s *Service) Administrators(ctx context.Context, p Principal) ([]string, error) {
	users, err := s.AllAccounts(ctx, p, UserAccount)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, a := range users {
		if a.Permissions.Has(UserManagement) {
			ids = append(ids, a.Identifier)
		}
	}
	return ids, nil
}

// UpdateUser replaces a user account's permissions; nil perms changes nothing. Errors:
// EForbidden, ENotFound, EInvalid when it would leave no administrator.
func (s *Service) UpdateUser(ctx context.Context, p Principal, email string, perms *PermissionSet) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	a, err := s.accountOf(ctx, email, UserAccount)
	if err != nil || perms == nil {
		return a, err
	}
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, []AccountChange{{ID: a.ID, Permissions: perms}}, s.clock()), a.ID); err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// ChangePermission grants (or revokes) one permission on several accounts at once, all or
// none. Errors: EForbidden; ENotFound naming the first unknown account; EInvalid when a
// service account would get token_management or no administrator would remain.
func (s *Service) ChangePermission(ctx context.Context, p Principal, perm Permission, grant bool, identifiers []string) ([]Account, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	if len(identifiers) == 0 {
		return nil, Errorf(EInvalid, "name at least one account")
	}
	accounts := make([]Account, 0, len(identifiers))
	changes := make([]AccountChange, 0, len(identifiers))
	for _, id := range identifiers {
		a, err := s.accountOf(ctx, id, "")
		if err != nil {
			return nil, err
		}
		perms := a.Permissions &^ NewPermissionSet(perm)
		if grant {
			perms |= NewPermissionSet(perm)
		}
		if a.Kind == ServiceAccount {
			if err := checkServicePermissions(perms); err != nil {
				return nil, err
			}
		}
		accounts = append(accounts, a)
		changes = append(changes, AccountChange{ID: a.ID, Permissions: &perms})
	}
	ids := make([]int64, len(changes))
	for i, c := range changes {
		ids[i] = c.ID
	}
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, changes, s.clock()), ids...); err != nil {
		return nil, err
	}
	for i := range accounts {
		var err error
		if accounts[i], err = s.reread(ctx, accounts[i]); err != nil {
			return nil, err
		}
	}
	return accounts, nil
}

// DeleteAccounts deletes accounts (users or service accounts), revoking all their tokens
// and ending their sessions, all or none. Unknown identifiers are skipped when skipUnknown
// is true and are ENotFound otherwise. It returns the deleted accounts. Errors:
// EForbidden, ENotFound, EInvalid when no administrator would remain.
func (s *Service) DeleteAccounts(ctx context.Context, p Principal, identifiers []string, skipUnknown bool) ([]Account, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	var accounts []Account
	var ids []int64
	for _, id := range identifiers {
		a, err := s.accountOf(ctx, id, "")
		if ErrorCode(err) == ENotFound && skipUnknown {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, a.ID) {
			accounts, ids = append(accounts, a), append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		return []Account{}, nil
	}
	if err := s.written(ctx, s.store.DeleteAccounts(ctx, ids, s.clock()), ids...); err != nil {
		return nil, err
	}
	return accounts, nil
}

// SetPassword sets a user account's password and ends its sessions, for the operator at
// the command line. Errors: ENotFound, EInvalid for a short password.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	a, err := s.accountOf(ctx, email, UserAccount)
	if err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.store.SetPassword(ctx, a.ID, hash, s.clock())
}
