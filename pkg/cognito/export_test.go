package cognito

// WaitRefresh waits for the authenticator's fetch in progress, if any, for the tests of
// package cognito_test.
var WaitRefresh = waitFlight
