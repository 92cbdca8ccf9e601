package kcpgo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOwnerCrossedBy: a conv crosses a trial when another Owner registered it, and never when the
// trial itself or no one did.
func TestOwnerCrossedBy(t *testing.T) {
	t.Parallel()
	a, b := &Owner{Exp: "x", Trial: 1}, &Owner{Exp: "x", Trial: 1} // equal fields, two runs of one trial
	convA, err := a.NewConv()
	require.NoError(t, err)
	convB, err := b.NewConv()
	require.NoError(t, err)
	var nobody uint32
	for {
		nobody, err = RandomConv()
		require.NoError(t, err)
		if (&Owner{}).CrossedBy(nobody) == nil {
			break
		}
	}
	for _, tc := range []struct {
		name  string
		owner *Owner
		conv  uint32
		want  *Owner
	}{
		{"its own conv", a, convA, nil},
		{"another run's conv", a, convB, b},
		{"the other way round", b, convA, a},
		{"a conv no one registered", a, nobody, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Same(t, tc.want, tc.owner.CrossedBy(tc.conv))
		})
	}
	assert.Equal(t, "x trial 1", b.String())
}

// TestNewConvNilOwner: a nil Owner's conv is registered to no one.
func TestNewConvNilOwner(t *testing.T) {
	t.Parallel()
	var o *Owner
	conv, err := o.NewConv()
	require.NoError(t, err)
	assert.Nil(t, (&Owner{}).CrossedBy(conv))
}
