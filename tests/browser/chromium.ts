// How every browser run here starts Debian's Chromium (tests, consumer tests, the browser benchmark):
// its SwiftShader gives WebGPU without a GPU once --enable-unsafe-webgpu is on; Playwright's own browser
// download is not needed (CHROMIUM_PATH overrides the binary on other machines).
export function chromiumLaunchOptions(extraArgs: string[] = []): { executablePath: string; args: string[] } {
  return {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--enable-unsafe-webgpu', ...extraArgs, '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  };
}
