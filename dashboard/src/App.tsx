export function App() {
  return <main>Win Notifications</main>;
}
