package guards

// pageRule judges a confirmation against the approval page's place in the
// confirm modes: with --confirm=page only the page counts (a phrase in an
// argument or a form answer could have come from the model or the client);
// with --confirm=phrase the page is never offered, so an approval from it
// was not prompted by this server. In auto and elicit modes the page is one
// more route a person can take.
func pageRule(by string, mode ConfirmMode, phrase string) *Refusal {
	switch {
	case mode == ConfirmPage && by != ConfirmedByPage:
		return &Refusal{Code: CodeApprovalRequired, Pointer: "/confirm",
			Problem: "this server accepts confirmations only on its approval page (--confirm=page), and this one came as a " + by,
			Next:    "Call the tool again without confirm: it returns the approval page's link; ask the person to open it and type " + phrase + " there, then call the tool again."}
	case mode == ConfirmPhrase && by == ConfirmedByPage:
		return &Refusal{Code: CodeConfirmationInvalid, Pointer: "/confirm",
			Problem: "this server takes confirmations only as the typed phrase in the confirm argument (--confirm=phrase), and this one came from an approval page it never offered",
			Next:    "Ask the person to type " + phrase + " and pass exactly that as confirm."}
	}
	return nil
}
