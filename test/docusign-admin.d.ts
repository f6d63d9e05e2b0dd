// docusign-admin ships no type declarations; the tests drive it the way an untyped customer script does.
declare module 'docusign-admin' {
  const sdk: any;
  export default sdk;
}
