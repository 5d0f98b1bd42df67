package modcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFlightDedup(t *testing.T) {
	var g flightGroup
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]any, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err, _ := g.Do(context.Background(), "k", func(ctx context.Context) (any, error) {
				calls.Add(1)
				<-release
				return "v", nil
			})
			if err != nil {
				t.Errorf("Do = %v", err)
			}
			results[i] = v
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("fn ran %d times, want 1", n)
	}
	for i, v := range results {
		if v != "v" {
			t.Errorf("result[%d] = %v, want v", i, v)
		}
	}
}

func TestFlightCancelOnlyWhenAllLeave(t *testing.T) {
	var g flightGroup
	started := make(chan struct{})
	cancelled := make(chan struct{})
	fn := func(ctx context.Context) (any, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err, _ := g.Do(ctx1, "k", fn); errs <- err }()
	<-started
	go func() { _, err, _ := g.Do(ctx2, "k", fn); errs <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel1()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("first waiter err = %v", err)
	}
	select {
	case <-cancelled:
		t.Fatal("work cancelled while a waiter remained")
	case <-time.After(50 * time.Millisecond):
	}
	cancel2()
	<-errs
	select {
	case <-cancelled:
	case <-time.After(time.Second):
		t.Fatal("work not cancelled after the last waiter left")
	}
}
