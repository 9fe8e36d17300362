package sandbox

// apiRoutes are the routes of the API surface beyond bulk delete and
// search (docs/close-sandbox-api.md). It reports whether seg is one of
// them, setting the method table and the path argument.
func (s *Server) apiRoutes(seg []string, m *map[string]handler, arg *string) bool {
	is := func(p ...string) bool {
		if len(p) != len(seg) {
			return false
		}
		for i := range p {
			if p[i] != "*" && p[i] != seg[i] {
				return false
			}
		}
		return true
	}
	type h = map[string]handler
	if graphRoutes(seg, m, arg) {
		return true
	}
	switch {
	case is("status", "opportunity"):
		*m = h{"GET": (*call).listOppStatuses, "POST": (*call).createOppStatus}
	case is("status", "opportunity", "*"):
		*m, *arg = h{"GET": (*call).getOppStatus, "PUT": (*call).updateOppStatus, "DELETE": (*call).deleteOppStatus}, seg[2]
	case is("pipeline"):
		*m = h{"GET": (*call).listPipelines, "POST": (*call).createPipeline}
	case is("pipeline", "*"):
		*m, *arg = h{"GET": (*call).getPipeline, "PUT": (*call).updatePipeline, "DELETE": (*call).deletePipeline}, seg[1]
	case len(seg) >= 2 && seg[0] == "custom_field" && cfKinds[seg[1]] != nil && len(seg) <= 3:
		kind := seg[1]
		if len(seg) == 2 {
			*m = h{"GET": func(c *call, _ string) { c.listObjectCFs(kind) }, "POST": func(c *call, _ string) { c.createObjectCF(kind) }}
		} else {
			*m, *arg = h{"GET": func(c *call, id string) { c.getObjectCF(kind, id) },
				"PUT":    func(c *call, id string) { c.updateObjectCF(kind, id) },
				"DELETE": func(c *call, id string) { c.deleteObjectCF(kind, id) }}, seg[2]
		}
	case is("lead"):
		*m = h{"GET": (*call).leads, "POST": (*call).createLead}
	case is("lead", "*"):
		*m, *arg = h{"GET": (*call).lead, "PUT": (*call).updateLead, "DELETE": (*call).deleteLead}, seg[1]
	case is("contact"):
		*m = h{"GET": (*call).listContacts, "POST": (*call).createContact}
	case is("contact", "*"):
		*m, *arg = h{"GET": (*call).contact, "PUT": (*call).updateContact, "DELETE": (*call).deleteContact}, seg[1]
	case is("status", "lead"):
		*m = h{"GET": (*call).statuses, "POST": (*call).createLeadStatus}
	case is("status", "lead", "*"):
		*m, *arg = h{"GET": (*call).getLeadStatus, "PUT": (*call).updateLeadStatus, "DELETE": (*call).deleteLeadStatus}, seg[2]
	case is("custom_field", "lead"):
		*m = h{"GET": (*call).customFields, "POST": (*call).createCustomField}
	case is("custom_field", "lead", "*"):
		*m, *arg = h{"GET": (*call).getCustomField, "PUT": (*call).updateCustomField, "DELETE": (*call).deleteCustomField}, seg[2]
	case is("saved_search"):
		*m = h{"GET": (*call).savedSearches, "POST": (*call).createSavedSearch}
	case is("saved_search", "*"):
		*m, *arg = h{"GET": (*call).savedSearch, "PUT": (*call).updateSavedSearch, "DELETE": (*call).deleteSavedSearch}, seg[1]
	case is("organization", "*"):
		*m, *arg = h{"GET": (*call).organization, "PUT": (*call).updateOrganization}, seg[1]
	case is("event"):
		*m = h{"GET": (*call).listEvents}
	case is("event", "*"):
		*m, *arg = h{"GET": (*call).getEvent}, seg[1]
	case is("export"):
		*m = h{"GET": (*call).listExports}
	case is("export", "lead"):
		*m = h{"GET": (*call).listExports, "POST": (*call).createExport}
	case is("export", "*"), is("export", "lead", "*"):
		*m, *arg = h{"GET": (*call).getExport}, seg[len(seg)-1]
	default:
		return false
	}
	return true
}
