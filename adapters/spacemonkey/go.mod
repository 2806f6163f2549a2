module github.com/osslcache/osslcache/adapters/spacemonkey

go 1.26.0

require (
	github.com/osslcache/osslcache v0.0.0-00010101000000-000000000000
	github.com/spacemonkeygo/openssl v0.0.0-20181017203307-c2dcc5cca94a
)

require (
	github.com/spacemonkeygo/spacelog v0.0.0-20180420211403-2296661a0572 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/osslcache/osslcache => ../..
