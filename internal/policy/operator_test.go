package policy

import "testing"

// testString must agree with test on the same string, for every operator.
func TestTestStringAgreesWithTest(t *testing.T) {
	operands := []any{
		"pay", 5, true, nil,
		M{"$eq": "pay"}, M{"$eq": A{"pay"}}, M{"$ne": "pay"}, M{"$gt": 1}, M{"$lte": 1},
		M{"$in": A{"pay", 1, nil}}, M{"$in": A{"a", "b", "c", "d", "e", "f", "g", "pay", 9}}, M{"$nin": A{"pay"}},
		M{"$regex": "^p"}, M{"$glob": "p*"}, M{"$glob": "p?y"}, M{"$exists": true}, M{"$exists": false},
		M{"$contains": "a"}, M{"$contains": 1}, M{"$not": M{"$in": A{"x", "pay"}}}, M{"$not": M{"$gt": 3}},
	}
	for _, operand := range operands {
		ps := &problems{}
		ops := compileValueMatcher(operand, fieldPath{}.key("action"), 0, ps, newCompiler())
		if len(ps.errs) > 0 {
			t.Fatalf("%v: %v", operand, ps.errs)
		}
		for _, s := range []string{"pay", "", "pa", "p", "xyz"} {
			for _, present := range []bool{true, false} {
				for _, o := range ops {
					if a, b := o.test(s, present), o.testString(s, present); a != b {
						t.Errorf("%T %v on %q (present %v): test %v, testString %v", o, operand, s, present, a, b)
					}
				}
			}
		}
	}
}
