import { Link } from 'react-router';
import { Empty } from '../components/ui/Empty';

export function NotFoundPage() {
  return (
    <div className="page">
      <Empty title="Nothing here">
        <Link to="/schedule">Go to today's schedule</Link>
      </Empty>
    </div>
  );
}
