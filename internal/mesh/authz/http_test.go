package authz

import "testing"

func TestCanonicalPath(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"/", "/", true},
		{"/api/v1", "/api/v1", true},
		{"/api/v1/", "/api/v1/", true},
		{"/api/v1?q=../../x", "/api/v1", true},
		{"/a%20b", "/a b", true},
		{"/%61pi", "/api", true},
		{"http://host:80/api", "/api", true},
		{"HTTPS://host/api", "/api", true},
		{"http://host", "", false},
		{"*", "", false},
		{"host:443", "", false},
		{"", "", false},
		{"api", "", false},
		{"/api/../admin", "", false},
		{"/api/./x", "", false},
		{"/api//x", "", false},
		{"//api", "", false},
		{"/api/%2e%2e/admin", "", false},
		{"/api%2fadmin", "", false},
		{"/api%2Fadmin", "", false},
		{"/api%5cadmin", "", false},
		{"/api\\admin", "", false},
		{"/api%00", "", false},
		{"/api%zz", "", false},
		{"/api/..", "", false},
	}
	for _, tt := range tests {
		got, ok := CanonicalPath(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalPath(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPathHasPrefix(t *testing.T) {
	tests := []struct {
		path, prefix string
		want         bool
	}{
		{"/api", "/api", true},
		{"/api/x", "/api", true},
		{"/apis", "/api", false},
		{"/api/x", "/api/", true},
		{"/api", "/api/", false},
		{"/anything", "/", true},
	}
	for _, tt := range tests {
		if got := pathHasPrefix(tt.path, tt.prefix); got != tt.want {
			t.Errorf("pathHasPrefix(%q, %q) = %v, want %v", tt.path, tt.prefix, got, tt.want)
		}
	}
}
