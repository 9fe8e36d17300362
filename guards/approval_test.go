package guards

import "testing"

func TestPageRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		by   string
		mode ConfirmMode
		want string // refusal code, "" = allowed
	}{
		{ConfirmedByPage, ConfirmPage, ""},
		{ConfirmedByPhrase, ConfirmPage, CodeApprovalRequired},
		{ConfirmedByElicitation, ConfirmPage, CodeApprovalRequired},
		{ConfirmedByPage, ConfirmPhrase, CodeConfirmationInvalid},
		{ConfirmedByPage, ConfirmAuto, ""},
		{ConfirmedByPage, ConfirmElicit, ""},
		{ConfirmedByPhrase, ConfirmAuto, ""},
	} {
		r := pageRule(tc.by, tc.mode, "DELETE 1 LEAD")
		got := ""
		if r != nil {
			got = r.Code
		}
		if got != tc.want {
			t.Errorf("%s confirmation under --confirm=%s: refusal %q, want %q", tc.by, tc.mode, got, tc.want)
		}
	}
}
