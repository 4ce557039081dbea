package reconcile

import (
	"slices"
)

// sides holds what a run read, and grows as look-ups find more. Both sides
// live in compact tables that share one string arena (table.go): a run over
// a million refunds a side holds them in a few hundred megabytes, not
// gigabytes.
type sides struct {
	scope  Scope
	strs   *strTable
	ledger ledgerTable
	// ledgerIDs are the (string ids of the) ids of the ledger rows held,
	// sorted, built by the first look-up; laterIDs those added since.
	ledgerIDs []strID
	laterIDs  map[strID]bool
	// unnamed holds the rows without an id, to tell look-up results apart.
	unnamed map[LedgerRefund]bool
	gateway gatewayTable
	gwIndex idMap // (string id of) a refund id -> its index
	// customerCharges are the charges of scope.CustomerID, when set.
	customerCharges map[string]bool
	// arns are the card network references of a customer check's refunds,
	// by refund id, for its verdict (the compact table keeps none).
	arns map[string]string
	// rejudge: the open cases' subjects, judged again (rejudge.go).
	rejudge rejudge
	// openCases counts the scope's unresolved cases.
	openCases int
}

func newSides(scope Scope) *sides {
	strs := newStrTable()
	return &sides{scope: scope, strs: strs, ledger: ledgerTable{strs: strs}, gateway: gatewayTable{strs: strs},
		unnamed: map[LedgerRefund]bool{}}
}

// gatewayIndex returns the index of the refund with id, if held.
func (s *sides) gatewayIndex(id string) (int, bool) {
	sid, ok := s.strs.lookup(id)
	if !ok {
		return 0, false
	}
	j, ok := s.gwIndex.get(sid)
	return int(j), ok
}

// gatewayOf returns the classifier's view of the refunds matched:
// the refunds read back into scratch, indexed 0, 1, ….
func (s *sides) gatewayOf(matched []int32, scratch []GatewayRefund, local []int32) ([]GatewayRefund, []int32) {
	scratch, local = scratch[:0], local[:0]
	for k, j := range matched {
		scratch = append(scratch, s.gateway.at(int(j)))
		local = append(local, int32(k))
	}
	return scratch, local
}

// addLedger adds a row. A row of the run's own read is always kept (a
// duplicated row is the ledger's, and is judged); a look-up's row only when
// the run does not hold it yet.
//
// A status in another letter case is held in lower case (COMPLETE is
// complete), so every rule compares one form.
func (s *sides) addLedger(l LedgerRefund, lookup bool) bool {
	l.Status = l.Status.Normal()
	if l.ID != "" {
		if lookup && s.ledgerHeld(l.ID) {
			return false
		}
		s.ledger.add(l)
		if s.laterIDs != nil {
			s.laterIDs[s.ledger.rec(s.ledger.len()-1).id] = true
		}
		return true
	} else {
		if lookup && s.unnamed[l] {
			return false
		}
		s.unnamed[l] = true
	}
	s.ledger.add(l)
	return true
}

// ledgerHeld reports whether a ledger row with id is held.
func (s *sides) ledgerHeld(id string) bool {
	if s.laterIDs == nil {
		s.ledgerIDs = make([]strID, 0, s.ledger.len())
		for i := range s.ledger.len() {
			if r := s.ledger.rec(i); r.id != 0 {
				s.ledgerIDs = append(s.ledgerIDs, r.id)
			}
		}
		slices.Sort(s.ledgerIDs)
		s.laterIDs = map[strID]bool{}
	}
	sid, ok := s.strs.lookup(id)
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(s.ledgerIDs, sid)
	return found || s.laterIDs[sid]
}

func (s *sides) addGateway(g GatewayRefund) bool {
	if _, ok := s.gatewayIndex(g.ID); ok {
		return false
	}
	if g.ARN != "" && s.scope.CustomerID != "" {
		if s.arns == nil {
			s.arns = map[string]string{}
		}
		s.arns[g.ID] = g.ARN
	}
	s.gateway.add(g)
	j := s.gateway.len() - 1
	s.gwIndex.put(s.gateway.rec(j).id, int32(j))
	return true
}
