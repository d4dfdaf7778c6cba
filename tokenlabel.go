package tokenward

import "context"

// TokenLabelStore is what the audit trail's token labels need from the database.
type TokenLabelStore interface {
	// TokenLabels returns the name and hint of each token among ids, revoked ones too;
	// unknown ids are left out.
	TokenLabels(ctx context.Context, ids []string) (map[string]TokenLabel, error)
}

// TokenLabel is how people recognize a token: its name and the last four characters of
// its secret (••••hint), the way every token table shows it. The audit trail names tokens
// by public id; the console shows this label beside it, so that an entry and a table row
// can be matched by eye.
type TokenLabel struct {
	Name, Hint string
}

// maxLabels bounds one TokenLabels request: a page of the audit trail.
const maxLabels = 500

// TokenLabels returns the labels of the tokens with these public ids, revoked ones
// included, for an administrator reading the audit trail. Errors: EForbidden, EInvalid
// for more than 500 ids.
func (s *Service) TokenLabels(ctx context.Context, p Principal, ids []string) (map[string]TokenLabel, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	if len(ids) > maxLabels {
		return nil, Errorf(EInvalid, "at most %d token ids at once", maxLabels)
	}
	if len(ids) == 0 {
		return map[string]TokenLabel{}, nil
	}
	return s.store.TokenLabels(ctx, ids)
}
