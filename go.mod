module github.com/agentgate/agentgate

go 1.26.8

require (
	cel.dev/cel-go v0.33.2 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
