module github.com/weirstream/weir/sdk/go

go 1.24
