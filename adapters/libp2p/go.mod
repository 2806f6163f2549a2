module github.com/osslcache/osslcache/adapters/libp2p

go 1.26.0

require (
	github.com/libp2p/go-openssl v0.1.0
	github.com/osslcache/osslcache v0.0.0-00010101000000-000000000000
)

require (
	github.com/mattn/go-pointer v0.0.1 // indirect
	github.com/spacemonkeygo/spacelog v0.0.0-20180420211403-2296661a0572 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/osslcache/osslcache => ../..
