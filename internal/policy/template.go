package policy

import "time"

// Template is a ready-made policy people can start from (the dashboard's
// "new policy from template" and POST /api/policies/from-template).
type Template struct {
	ID          string
	Name        string
	Description string
	Category    string
	Policy      Policy
}

// Templates returns the built-in templates. Each call returns fresh copies,
// so callers may edit them. Every template compiles; placeholders such as
// company.com are meant to be edited.
func Templates() []Template {
	return []Template{
		{
			ID:          "outbound-email",
			Name:        "Outbound email",
			Description: "Auto-approve email to the company's own domains; ask a person before mailing anyone else.",
			Category:    "communication",
			Policy: Policy{
				Name: "Outbound email", Priority: 50, Enabled: true,
				Rules: []Rule{
					{
						Match: map[string]any{
							"action":    "send_email",
							"params.to": map[string]any{"$regex": `^[^@\s]+@(company\.com|internal\.corp)$`},
						},
						Decision: AutoApprove,
					},
					{
						Match:    map[string]any{"action": "send_email"},
						Decision: RouteToHuman,
						Timeout:  Duration(4 * time.Hour), OnTimeout: OnTimeoutDeny,
					},
				},
			},
		},
		{
			ID:          "deployment",
			Name:        "Deployments",
			Description: "Deploys to staging go ahead; production deploys need a person and a reason, and are denied if nobody answers within an hour.",
			Category:    "infrastructure",
			Policy: Policy{
				Name: "Deployments", Priority: 20, Enabled: true,
				Rules: []Rule{
					{
						Match:    map[string]any{"action": "deploy", "params.environment": map[string]any{"$in": []any{"staging", "dev", "preview"}}},
						Decision: AutoApprove,
					},
					{
						Match:         map[string]any{"action": "deploy", "params.environment": "production"},
						Decision:      RouteToHuman,
						RequireReason: true,
						Timeout:       Duration(time.Hour), OnTimeout: OnTimeoutDeny,
					},
					{
						Match:    map[string]any{"action": "deploy"},
						Decision: RouteToHuman,
					},
				},
			},
		},
		{
			ID:          "file-deletion",
			Name:        "File deletion",
			Description: "Never delete recursively or at the filesystem or home root; ask a person for any other deletion.",
			Category:    "filesystem",
			Policy: Policy{
				Name: "File deletion", Priority: 30, Enabled: true,
				Rules: []Rule{
					{
						Match:    map[string]any{"action": "file_delete", "params.recursive": true},
						Decision: AutoDeny,
					},
					{
						Match: map[string]any{
							"action": "file_delete",
							// "/", "/*", "~", "~/", "~/*", "C:\", and the same with any number of trailing slashes.
							"params.path": map[string]any{"$regex": `^\s*(/+\*?|~/*\*?|[A-Za-z]:[\\/]*\*?)\s*$`},
						},
						Decision: AutoDeny,
					},
					{
						Match:    map[string]any{"action": "file_delete"},
						Decision: RouteToHuman,
					},
				},
			},
		},
		{
			ID:          "payments",
			Name:        "Payments over a threshold",
			Description: "Auto-approve payments up to 100, ask a finance approver up to 10,000, and deny anything larger. A non-numeric amount is asked about, never approved.",
			Category:    "finance",
			Policy: Policy{
				Name: "Payments", Priority: 10, Enabled: true,
				Rules: []Rule{
					{
						Match:    map[string]any{"action": "payment", "params.amount": map[string]any{"$gt": 10000}},
						Decision: AutoDeny,
					},
					{
						Match:    map[string]any{"action": "payment", "params.amount": map[string]any{"$gte": 0, "$lte": 100}},
						Decision: AutoApprove,
					},
					{
						Match:         map[string]any{"action": "payment"},
						Decision:      RouteToHuman,
						Approvers:     []string{"finance"},
						RequireReason: true,
						Timeout:       Duration(24 * time.Hour), OnTimeout: OnTimeoutDeny,
					},
				},
			},
		},
		{
			ID:          "data-export",
			Name:        "Data export",
			Description: "Exports of up to 1,000 rows go ahead; larger (or unsized) exports need a person.",
			Category:    "data",
			Policy: Policy{
				Name: "Data export", Priority: 60, Enabled: true,
				Rules: []Rule{
					{
						Match:    map[string]any{"action": "data_export", "params.rowCount": map[string]any{"$gte": 0, "$lte": 1000}},
						Decision: AutoApprove,
					},
					{
						Match:    map[string]any{"action": "data_export"},
						Decision: RouteToHuman,
					},
				},
			},
		},
		{
			ID:          "external-api-write",
			Name:        "External API writes",
			Description: "Read-only HTTP calls go ahead; anything that writes needs a person.",
			Category:    "integrations",
			Policy: Policy{
				Name: "External API writes", Priority: 40, Enabled: true,
				Rules: []Rule{
					{
						Match:    map[string]any{"action": "api_call", "params.method": map[string]any{"$in": []any{"GET", "HEAD", "OPTIONS"}}},
						Decision: AutoApprove,
					},
					{
						Match:    map[string]any{"action": "api_call"},
						Decision: RouteToHuman,
					},
				},
			},
		},
		{
			ID:          "after-hours",
			Name:        "Nothing automatic after hours",
			Description: "Outside 08:00-18:00 UTC on weekdays, high- and critical-urgency requests always go to a person, whatever later policies say.",
			Category:    "schedule",
			Policy: Policy{
				Name: "After hours", Priority: 5, Enabled: true,
				Rules: []Rule{
					{
						Match:    map[string]any{"urgency": map[string]any{"$in": []any{"high", "critical"}}},
						When:     `now.getDayOfWeek() == 0 || now.getDayOfWeek() == 6 || now.getHours() < 8 || now.getHours() >= 18`,
						Decision: RouteToHuman,
					},
				},
			},
		},
	}
}
