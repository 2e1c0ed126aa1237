package app

import (
	"net/http"
	"time"

	"github.com/agentgate/agentgate/internal/channels"
	"github.com/agentgate/agentgate/internal/channels/discord"
	"github.com/agentgate/agentgate/internal/channels/email"
	"github.com/agentgate/agentgate/internal/channels/slack"
	"github.com/agentgate/agentgate/internal/httpapi"
)

// channelRoutes are the public endpoints people decide through.
type channelRoutes struct {
	slack   *slack.Handler
	discord *discord.Handler
	pages   *email.Pages
}

// newChannels builds the channel service (Slack, Discord and email as
// configured) and its endpoints. Unconfigured channels named by a rule
// are recorded as failed notifications in the request's timeline.
func (a *App) newChannels() error {
	cfg := a.Config
	ccfg := channels.Config{PublicURL: cfg.PublicURL, MaxAttempts: cfg.NotifyMaxAttempts}
	for _, c := range cfg.SlackDefaultChannel {
		ccfg.Defaults = append(ccfg.Defaults, channels.Target{Kind: channels.KindSlack, Address: c})
	}
	for _, c := range cfg.DiscordDefaultChannel {
		ccfg.Defaults = append(ccfg.Defaults, channels.Target{Kind: channels.KindDiscord, Address: c})
	}
	for _, to := range cfg.EmailDefaultTo {
		ccfg.Defaults = append(ccfg.Defaults, channels.Target{Kind: channels.KindEmail, Address: to})
	}
	svc := channels.NewService(a.Store, a.Approvals, ccfg, a.Log)
	routes := &channelRoutes{pages: email.NewPages(svc, a.Log, nil)}
	hc := &http.Client{Timeout: 15 * time.Second}
	if cfg.SlackBotToken != "" {
		scfg := slack.Config{Token: cfg.SlackBotToken, SigningSecret: cfg.SlackSigningSecret, APIURL: cfg.SlackAPIURL,
			Approvers: cfg.SlackApprovers, HTTPClient: hc}
		api := slack.NewClient(scfg)
		svc.Register(slack.NewNotifier(api))
		routes.slack = slack.NewHandler(svc, api, scfg, a.Log, nil)
		if len(cfg.SlackApprovers) == 0 {
			a.Log.Warn("SLACK_APPROVERS is not set: anyone who can click in the channel may decide requests whose rule names no approvers")
		}
	}
	if cfg.DiscordBotToken != "" {
		dcfg := discord.Config{Token: cfg.DiscordBotToken, PublicKey: cfg.DiscordPublicKey, APIURL: cfg.DiscordAPIURL,
			Approvers: cfg.DiscordApprovers}
		svc.Register(discord.NewNotifier(discord.NewClient(dcfg.APIURL, dcfg.Token, Version, hc)))
		h, err := discord.NewHandler(svc, dcfg, a.Log, nil)
		if err != nil {
			return err
		}
		routes.discord = h
		if len(cfg.DiscordApprovers) == 0 {
			a.Log.Warn("DISCORD_APPROVERS is not set: anyone who can click in the channel may decide requests whose rule names no approvers")
		}
	}
	if cfg.SMTPHost != "" {
		svc.Register(email.NewNotifier(email.Config{Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername,
			Password: cfg.SMTPPassword, From: cfg.SMTPFrom, TLS: cfg.SMTPTLS, PublicURL: cfg.PublicURL, LinkTTL: cfg.DecisionLinkTTL}, a.Store))
		if cfg.BaseURL == "" {
			a.Log.Warn("AGENTGATE_BASE_URL is not set: decision links in emails point to the listen address, which recipients may not reach")
		}
	}
	a.Channels, a.channelRoutes = svc, routes
	return nil
}

// mountChannels registers the public endpoints on the API server.
func (a *App) mountChannels() {
	r := a.channelRoutes
	if r.slack != nil {
		a.API.Handle(httpapi.Route{Method: "POST", Pattern: "/integrations/slack/interactions", Scope: httpapi.ScopePublic, Handler: r.slack.Handle})
	}
	if r.discord != nil {
		a.API.Handle(httpapi.Route{Method: "POST", Pattern: "/integrations/discord/interactions", Scope: httpapi.ScopePublic, Handler: r.discord.Handle})
	}
	a.API.Handle(httpapi.Route{Method: "GET", Pattern: "/decide/{token}", Scope: httpapi.ScopePublic, AddressLimit: email.PageLimit, Handler: r.pages.Show})
	a.API.Handle(httpapi.Route{Method: "POST", Pattern: "/decide/{token}", Scope: httpapi.ScopePublic, AddressLimit: email.PageLimit, Handler: r.pages.Decide})
}
